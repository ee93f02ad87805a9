import {
  AppError,
  type Authenticator,
  bearerFrom,
  createAuthenticator,
  DenyList,
  type DenyListStore,
  looksLikeApiKey,
  type Principal,
  TokenVerifier,
  unavailable,
} from '@parley/kernel';
import type { FastifyRequest } from 'fastify';
import { EdgeKeySource, type JwksFetch } from './edge-key-source.ts';

/** Who the edge thinks is calling, decided once per request in the edge hook. */
export interface EdgeIdentity {
  /** The verified caller when the bearer is a valid access token. */
  principal: Principal | null;
  /** The bearer is a personal API key: the service behind resolves it (the edge cannot). */
  apiKey: boolean;
  /** Why a presented bearer was refused (401), or that it could not be checked (503). */
  failure: AppError | null;
  /** Whose rate-limit window the request counts in. */
  subject: string;
}

export interface EdgeAuthOptions {
  fetch: JwksFetch;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
}

/**
 * Revocation is the services' to enforce: every one of them consults the shared deny list on every request
 * (the kernel verifier), so consulting it at the edge as well would only add a cache round trip to each
 * request for no extra protection. The edge checks what it needs to refuse forged, expired or foreign
 * tokens early and to know whose rate-limit window a request spends: signature, expiry, issuer, audience.
 */
const REVOCATION_CHECKED_BY_SERVICES: DenyListStore = {
  addMember: async () => {},
  members: async () => [],
};

/** The kernel's verifier fed with identity's published keys. */
export function createEdgeAuthenticator(options: EdgeAuthOptions): Authenticator {
  const verifier = new TokenVerifier({
    keys: new EdgeKeySource(options.fetch),
    denyList: new DenyList(REVOCATION_CHECKED_BY_SERVICES, {
      ttlMs: (options.accessTokenTtlSeconds + 60) * 1000,
    }),
    issuer: options.issuer,
    audience: options.audience,
  });
  return createAuthenticator({ verifier });
}

export async function identify(
  request: FastifyRequest,
  authenticator: Authenticator | undefined,
): Promise<EdgeIdentity> {
  const anonymous = { principal: null, apiKey: false, failure: null, subject: `ip:${request.ip}` };
  const bearer = bearerFrom(request);
  if (!bearer) return anonymous;
  // Counted per IP: an unverified key must not pick whose window it spends.
  if (looksLikeApiKey(bearer)) return { ...anonymous, apiKey: true };
  if (!authenticator) return anonymous;
  try {
    const principal = await authenticator.authenticate(bearer);
    return { principal, apiKey: false, failure: null, subject: `user:${principal.userId}` };
  } catch (error) {
    const failure =
      error instanceof AppError
        ? error
        : unavailable('Credentials cannot be checked right now; try again shortly.');
    if (!(error instanceof AppError)) request.log.warn({ err: error }, 'edge token check failed');
    return { ...anonymous, failure };
  }
}
