import type { FastifyReply, FastifyRequest } from 'fastify';
import { normalizeEmail } from '../domain/account-service.ts';
import { type AuthAction, type AuthRateLimiter, rateLimitHeaders } from '../domain/auth-rate-limiter.ts';

/**
 * preHandler for login, register, forgot-password and verification resends: a per-IP window, with its
 * headers on every answer,
 * and a per-account window for register and forgot-password. Login's per-account limit is the rising
 * delay after failures (AuthRateLimiter.assertLoginAllowed), so an attacker cannot lock the real user
 * out for a whole window by merely trying.
 */
export function authRateLimit(limiter: AuthRateLimiter, action: AuthAction) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const state = await limiter.hitIp(action, request.ip);
    reply.headers(rateLimitHeaders(state));
    const body = request.body as { email?: unknown } | undefined;
    if (action !== 'login' && typeof body?.email === 'string') {
      await limiter.hitAccount(action, normalizeEmail(body.email));
    }
  };
}
