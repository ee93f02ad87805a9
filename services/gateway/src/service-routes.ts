import type { ServiceName } from '@parley/kernel';

/** How a proxied request body travels: read whole first (replayable on retry) or streamed as it arrives. */
export type BodyHandling = 'buffer' | 'stream';

export interface ServiceRoute {
  service: ServiceName;
  /** A path prefix: the prefix itself and everything under it go to the service. */
  prefix: string;
  body: BodyHandling;
}

/**
 * Which service answers which public path, in one place: the gateway proxies these prefixes to a service's
 * upstream nodes when the service does not run in this process. A new service adds its rows here.
 */
export const SERVICE_ROUTES: readonly ServiceRoute[] = [
  { service: 'identity', prefix: '/api/v1/auth', body: 'buffer' },
  { service: 'identity', prefix: '/api/v1/users', body: 'buffer' },
  { service: 'identity', prefix: '/api/v1/admin', body: 'buffer' },
  { service: 'identity', prefix: '/.well-known', body: 'buffer' },
  { service: 'chat', prefix: '/api/v1/conversations', body: 'buffer' },
  { service: 'chat', prefix: '/api/v1/search', body: 'buffer' },
  // Uploads may be far larger than a JSON body: streamed, never held whole in the gateway.
  { service: 'chat', prefix: '/api/v1/uploads', body: 'stream' },
  { service: 'chat', prefix: '/socket.io', body: 'buffer' },
  { service: 'bots', prefix: '/api/v1/bots', body: 'buffer' },
  { service: 'bots', prefix: '/api/v1/openai', body: 'buffer' },
  { service: 'console', prefix: '/api/v1/console', body: 'buffer' },
  { service: 'personalization', prefix: '/api/v1/me', body: 'buffer' },
];

/** Where Socket.IO lives (the upgrade and long-polling requests). */
export const SOCKET_PATH = '/socket.io/';
export const SOCKET_SERVICE: ServiceName = 'chat';

/**
 * Routes the edge lets through without a bearer token: signing in and everything before it, the public
 * keys, and the socket handshake (chat verifies the token it carries). Ops endpoints and the docs are the
 * gateway's own and never proxied.
 */
const ANONYMOUS: ReadonlyArray<{ method: string; path: string | RegExp }> = [
  { method: 'POST', path: '/api/v1/auth/register' },
  { method: 'POST', path: '/api/v1/auth/login' },
  { method: 'POST', path: '/api/v1/auth/refresh' },
  // A client whose access token expired may still end its session with the refresh token alone.
  { method: 'POST', path: '/api/v1/auth/logout' },
  { method: 'POST', path: '/api/v1/auth/forgot-password' },
  { method: 'POST', path: '/api/v1/auth/reset-password' },
  { method: 'POST', path: '/api/v1/auth/verify-email' },
  { method: 'GET', path: /^\/\.well-known\// },
  { method: 'HEAD', path: /^\/\.well-known\// },
  { method: '*', path: /^\/socket\.io(\/|$)/ },
];

export function isAnonymousRoute(method: string, path: string): boolean {
  const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return ANONYMOUS.some(
    (route) =>
      (route.method === '*' || route.method === method) &&
      (typeof route.path === 'string' ? route.path === normalized : route.path.test(path)),
  );
}

export function routesOf(service: ServiceName): ServiceRoute[] {
  return SERVICE_ROUTES.filter((route) => route.service === service);
}
