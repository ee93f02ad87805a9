import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../errors.ts';
import { type Authenticator, hasRole, type Principal, type Role } from './principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principalOrNull: Principal | null;
  }
}

export function bearerFrom(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * Whether the request's bearer is exactly `secret` (a shared token: the internal service token, the metrics
 * token), compared in constant time so the answer's timing tells nothing of it. False without a secret.
 */
export function presentsSecret(request: FastifyRequest, secret: Buffer | undefined): boolean {
  if (!secret) return false;
  const presented = Buffer.from(bearerFrom(request) ?? '');
  return presented.length === secret.length && timingSafeEqual(presented, secret);
}

/**
 * The guards below are route `onRequest` hooks: they run before the body is read or the request validated,
 * so a caller without valid credentials gets 401 whatever else is wrong with the request (API.md), and no
 * body of an unknown caller is parsed.
 */

/** For internal APIs: only a bearer of the shared service token gets through (401 otherwise). */
export function requireServiceToken(token: string): (request: FastifyRequest) => Promise<void> {
  const expected = Buffer.from(token);
  return async (request) => {
    if (!presentsSecret(request, expected)) throw unauthorized('A service token is required.');
  };
}

/**
 * Decorates requests with the caller's principal (null until a guard runs). Each service registers it with
 * its own authenticator, so tokens are verified locally wherever the service runs.
 */
export function installAuthentication(app: FastifyInstance): void {
  if (!app.hasRequestDecorator('principalOrNull')) app.decorateRequest('principalOrNull', null);
}

/** A valid bearer credential is required; 401 with `WWW-Authenticate: Bearer` otherwise. */
export function requireAuth(authenticator: Authenticator) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const bearer = bearerFrom(request);
    if (!bearer) throw unauthorized('A bearer token is required.');
    request.principalOrNull = await authenticator.authenticate(bearer);
  };
}

/** Authentication plus at least the given role; 403 `forbidden` when the role is too low. */
export function requireRole(authenticator: Authenticator, minimum: Role) {
  const authenticate = requireAuth(authenticator);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await authenticate(request, reply);
    if (!hasRole(principalOf(request).role, minimum))
      throw forbidden(`This needs the ${minimum} role or higher.`);
  };
}

/** The authenticated caller; only valid behind requireAuth/requireRole. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principalOrNull;
  if (!principal) throw unauthorized();
  return principal;
}
