import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Cache } from '@parley/cache';
import type { App, Logger, ServiceName, ServicePlugin } from '@parley/kernel';
import type { Upstreams } from './distributed.ts';
import { createEdgeAuthenticator } from './edge/edge-identity.ts';
import { installEdgePolicy } from './edge/edge-policy.ts';
import { injectFetch } from './edge/inject-fetch.ts';
import { RateLimiter } from './edge/rate-limiter.ts';
import { upgradeOnlyToWebSocket } from './edge/websocket-only-upgrades.ts';
import type { GatewaySettings } from './gateway-settings.ts';
import type { OpenApiAggregator } from './ops/openapi-aggregator.ts';
import type { HealthChecker } from './upstream/health-checker.ts';
import type { UpstreamGroup } from './upstream/upstream-group.ts';

export type { GatewaySettings } from './gateway-settings.ts';

export interface GatewayDeps {
  config: GatewaySettings;
  /** The service plugins this process runs in-process (embedded mode mounts them all: no network hop). */
  services: ServicePlugin[];
  /** Rate limits; without it the edge does not count. */
  cache: Cache | undefined;
  logger: Logger;
  /** The built web client, served at `/` when its index.html exists. */
  webRoot?: string | undefined;
  /** Keep-alive connections per upstream node (default 128). */
  connectionsPerUpstream?: number;
  /** How often upstream OpenAPI documents are fetched again (default 60 s). */
  openapiRefreshMs?: number;
}

export interface Gateway {
  /** The services proxied to upstream nodes, by name. */
  groups: ReadonlyMap<ServiceName, UpstreamGroup>;
  health: HealthChecker | undefined;
  openapi: OpenApiAggregator | undefined;
}

/**
 * The edge. Every request passes the edge policy (trace context, caller identity, rate limit). Services
 * running in this process are mounted in it; those that do not but have `PARLEY_UPSTREAM_<SERVICE>` nodes
 * are proxied to them (HTTP and the Socket.IO upgrade), with health checks, breakers, their readiness in
 * /ready and their routes in the merged /openapi.json.
 */
export async function buildGateway(app: App, deps: GatewayDeps): Promise<Gateway> {
  const { config, logger } = deps;
  const local = new Set<ServiceName>(deps.services.map((service) => service.name));
  // Only a gateway with somewhere to proxy to loads the proxy (and its HTTP client): `npm start` stays lean.
  const remote = Object.entries(config.upstreams).some(
    ([name, urls]) => name !== 'gateway' && !local.has(name as ServiceName) && urls.length > 0,
  );
  const upstreams: Upstreams | undefined = remote
    ? (await import('./distributed.ts')).createUpstreams({
        config,
        local,
        logger,
        connectionsPerUpstream: deps.connectionsPerUpstream ?? 128,
        openapiRefreshMs: deps.openapiRefreshMs ?? 60_000,
      })
    : undefined;

  const jwks = local.has('identity') ? injectFetch(app) : upstreams?.jwks;
  const limiter = deps.cache
    ? new RateLimiter(deps.cache, config.rateLimit, {
        onFlushFailure: (error) =>
          logger.warn({ err: error }, 'rate limit counts not shared yet: the cache failed; retrying'),
      })
    : undefined;
  // Counted here but not yet in the shared windows: hand them over before the cache closes.
  if (limiter) app.addHook('preClose', async () => limiter.close());
  installEdgePolicy(app, {
    limiter,
    authenticator: jwks
      ? createEdgeAuthenticator({
          fetch: jwks,
          issuer: config.jwtIssuer,
          audience: config.jwtAudience,
          accessTokenTtlSeconds: config.accessTokenTtlSeconds,
        })
      : undefined,
  });

  for (const service of deps.services) await app.register(service.plugin);
  const mounted = await upstreams?.mount(app);
  // After chat's Socket.IO (in this process) or the WebSocket proxy (to its nodes) listens for upgrades.
  upgradeOnlyToWebSocket(app.server);

  if (deps.webRoot && existsSync(join(deps.webRoot, 'index.html'))) {
    await (await import('./web/web-client.ts')).serveWebClient(app, deps.webRoot);
  } else {
    app.get('/', { schema: { hide: true } }, async () => ({
      name: 'Parley',
      api: '/api/v1',
      docs: '/docs',
      openapi: '/openapi.json',
      services: [...local, ...(upstreams?.groups.keys() ?? [])],
    }));
  }
  return { groups: upstreams?.groups ?? new Map(), health: mounted?.health, openapi: mounted?.openapi };
}
