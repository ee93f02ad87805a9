import type { Cache } from '@parley/cache';
import {
  type Authenticator,
  type Config,
  createAuthenticator,
  DenyList,
  JwksKeySource,
  TokenVerifier,
} from '@parley/kernel';
import { RemoteApiKeys } from './remote-api-keys.ts';

/** Same tolerance and margin as identity's own verifier, so deny-list entries outlive every token. */
const CLOCK_TOLERANCE_SECONDS = 5;
const SAFETY_MARGIN_SECONDS = 60;

/**
 * The authenticator of a process that does not run identity: access tokens verified locally against the
 * public keys identity publishes (PARLEY_JWKS_URL or the identity upstream), revocations read from the
 * shared cache (Redis); API keys resolved by identity (PARLEY_UPSTREAM_IDENTITY) over its internal API.
 * Undefined when no JWKS location is configured: such a process refuses everyone.
 */
export function createRemoteAuthenticator(
  config: Config,
  cache: Cache,
  internalToken: string,
): Authenticator | undefined {
  if (!config.jwksUrl) return undefined;
  const denyList = new DenyList(cache, {
    ttlMs: (config.accessTokenTtlSeconds + CLOCK_TOLERANCE_SECONDS + SAFETY_MARGIN_SECONDS) * 1000,
  });
  const verifier = new TokenVerifier({
    keys: new JwksKeySource({ url: config.jwksUrl }),
    denyList,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
  });
  const identityUrls = config.upstreams.identity ?? [];
  const apiKeys =
    identityUrls.length > 0 ? new RemoteApiKeys({ identityUrls, internalToken, denyList }) : undefined;
  return createAuthenticator({ verifier, apiKeys });
}
