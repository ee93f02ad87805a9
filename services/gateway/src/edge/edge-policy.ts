import { type App, type Authenticator, rateLimited } from '@parley/kernel';
import { SOCKET_PATH } from '../service-routes.ts';
import { type EdgeIdentity, identify } from './edge-identity.ts';
import { type RateLimiter, rateLimitHeaders } from './rate-limiter.ts';
import { continueTrace, formatTraceparent, type TraceContext } from './trace-context.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the edge hook: who is calling, as far as the edge could tell. */
    edge: EdgeIdentity | null;
    traceContext: TraceContext | null;
  }
}

export interface EdgePolicyOptions {
  limiter: RateLimiter | undefined;
  authenticator: Authenticator | undefined;
}

/** Probes and scrapers call these constantly from a few addresses; counting them would starve those addresses. */
const UNLIMITED = new Set(['/health', '/ready', '/metrics']);

/**
 * Socket.IO traffic is limited where it is understood: chat authenticates the handshake and counts every
 * client event per socket (PARLEY_SOCKET_RATE_LIMIT). Counted here per IP, each long-polling round trip of
 * everyone behind one NAT would spend a single window.
 */
function isUnlimited(path: string, matchedRoute: () => string | undefined): boolean {
  if (UNLIMITED.has(path) || path.startsWith(SOCKET_PATH)) return true;
  // `/ready/` or `/h%65alth` is the same probe, and a probe configured so must not be answered 429 once
  // its address has spent its window: such spellings go by the route matched. Only they pay for asking
  // (Fastify builds routeOptions afresh on each read), not every request of the API.
  const respelled = path.includes('%') || (path.length > 1 && path.endsWith('/'));
  return respelled && UNLIMITED.has(matchedRoute() ?? '');
}

/**
 * The edge hook, in front of every route of the process (proxied or in-process alike): continues or starts
 * the W3C trace, identifies the caller, and counts the request in the caller's rate-limit window.
 * Rejecting an unauthenticated call is left to the route (in-process guards, or the proxy for upstreams).
 */
export function installEdgePolicy(app: App, options: EdgePolicyOptions): void {
  app.decorateRequest('edge', null);
  app.decorateRequest('traceContext', null);
  app.addHook('onRequest', async (request, reply) => {
    const trace = continueTrace(request.headers.traceparent);
    request.traceContext = trace;
    reply.header('traceparent', formatTraceparent(trace));
    const path = request.url.split('?', 1)[0] ?? '/';
    if (isUnlimited(path, () => request.routeOptions.url)) return;
    const edge = await identify(request, options.authenticator);
    request.edge = edge;
    if (!options.limiter) return;
    let state: Awaited<ReturnType<RateLimiter['hit']>>;
    try {
      state = await options.limiter.hit(edge.subject);
    } catch (error) {
      // The cache being down must not take the whole API down with it: let the request through, uncounted.
      request.log.warn({ err: error }, 'rate limit not counted: the cache failed');
      return;
    }
    reply.headers(rateLimitHeaders(state));
    if (state.exceeded) {
      throw rateLimited(state.resetSeconds, `Too many requests; try again in ${state.resetSeconds} s.`);
    }
  });
}
