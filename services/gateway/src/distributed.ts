import { type App, type Logger, type ServiceName, securityHeaders } from '@parley/kernel';
import type { JwksFetch } from './edge/edge-key-source.ts';
import type { GatewaySettings } from './gateway-settings.ts';
import { createGatewayMetrics } from './ops/gateway-metrics.ts';
import { OpenApiAggregator } from './ops/openapi-aggregator.ts';
import type { OpenApiDocument } from './ops/openapi-merge.ts';
import { RouteLabels } from './ops/route-labels.ts';
import { upstreamReadiness } from './ops/upstream-readiness.ts';
import { edgeOwnHeaders } from './proxy/headers.ts';
import { registerHttpProxy } from './proxy/http-proxy.ts';
import { attachWebSocketProxy } from './proxy/websocket-proxy.ts';
import { SERVICE_ROUTES, SOCKET_SERVICE } from './service-routes.ts';
import { groupFetch } from './upstream/group-fetch.ts';
import { HealthChecker } from './upstream/health-checker.ts';
import { UpstreamGroup } from './upstream/upstream-group.ts';
import { UpstreamNode, type UpstreamTuning } from './upstream/upstream-node.ts';

/** The services this gateway proxies, and what it mounts for them once the edge policy is in place. */
export interface Upstreams {
  groups: ReadonlyMap<ServiceName, UpstreamGroup>;
  /** Fetches identity's keys through its nodes (when identity is proxied). */
  jwks: JwksFetch | undefined;
  mount(app: App): Promise<{ health: HealthChecker; openapi: OpenApiAggregator }>;
}

export interface UpstreamOptions {
  config: GatewaySettings;
  local: ReadonlySet<ServiceName>;
  logger: Logger;
  connectionsPerUpstream: number;
  openapiRefreshMs: number;
}

/**
 * Distributed mode, loaded only when some service runs elsewhere: the upstream pools, the HTTP and
 * WebSocket proxies, health checks, readiness per service, upstream metrics and the merged API document.
 */
export function createUpstreams(options: UpstreamOptions): Upstreams | undefined {
  const { config, logger } = options;
  const groups = upstreamGroups(config, options.local, {
    ...config.gateway,
    connections: options.connectionsPerUpstream,
    nodeKeySecret: config.internalToken,
  });
  if (groups.size === 0) return undefined;
  const identity = groups.get('identity');
  return {
    groups,
    jwks: identity ? groupFetch(identity, config.gateway.connectTimeoutMs + 3000) : undefined,
    async mount(app) {
      const metrics = createGatewayMetrics(app.metrics.registry, [...groups.values()]);
      const labels = new RouteLabels();
      await registerHttpProxy(app, {
        routes: SERVICE_ROUTES.flatMap((route) => {
          const group = groups.get(route.service);
          return group ? [{ route, group }] : [];
        }),
        metrics,
        labels,
        bodyLimitBytes: config.bodyLimitBytes,
        // Room for the multipart envelope around the largest accepted file.
        streamLimitBytes: config.uploadMaxBytes + 1024 * 1024,
        // The kernel's onRequest hook sets these on every answer of this process, proxied ones included.
        edgeOwnHeaders: edgeOwnHeaders(securityHeaders()),
      });
      const chat = groups.get(SOCKET_SERVICE);
      if (chat) {
        const sockets = attachWebSocketProxy(app.server, {
          group: chat,
          metrics,
          connectTimeoutMs: config.gateway.connectTimeoutMs,
          clientOf: app.clientOf,
        });
        // Upgraded connections would keep the HTTP server from closing.
        app.addHook('preClose', async () => sockets.closeAll());
      }
      for (const group of groups.values()) {
        app.readiness.add(`upstream:${group.service}`, upstreamReadiness(group));
      }

      const health = new HealthChecker([...groups.values()], {
        intervalMs: config.gateway.healthIntervalMs,
        logger,
      });
      const openapi = new OpenApiAggregator({
        groups: [...groups.values()],
        local: () => ({ ...app.swagger() }),
        fetchDocument: async (group) => {
          const response = await groupFetch(group, 5000)('/openapi.json');
          if (!response.ok) throw new Error(`/openapi.json answered ${response.status}`);
          return (await response.json()) as OpenApiDocument;
        },
        refreshMs: options.openapiRefreshMs,
        logger,
        onMerged: (document) => labels.update((document.paths ?? {}) as Record<string, unknown>),
      });
      app.openapiDocument = () => openapi.document();
      app.addHook('onReady', async () => {
        health.start();
        openapi.start();
      });
      app.addHook('onClose', async () => {
        await health.stop();
        await openapi.stop();
        await Promise.all(uniqueNodes(groups).map((node) => node.close()));
      });
      return { health, openapi };
    },
  };
}

/**
 * One group per proxied service. A node that runs several services (one process, many plugins) is one
 * UpstreamNode shared by their groups: one pool, one health check, one breaker for one process.
 */
function upstreamGroups(
  config: GatewaySettings,
  local: ReadonlySet<ServiceName>,
  tuning: UpstreamTuning,
): Map<ServiceName, UpstreamGroup> {
  const nodes = new Map<string, UpstreamNode>();
  const nodeFor = (url: string) => {
    const origin = new URL(url).origin;
    const node = nodes.get(origin) ?? new UpstreamNode(origin, tuning);
    nodes.set(origin, node);
    return node;
  };
  const groups = new Map<ServiceName, UpstreamGroup>();
  for (const [name, urls] of Object.entries(config.upstreams) as Array<[ServiceName, string[]]>) {
    if (name === 'gateway' || local.has(name) || urls.length === 0) continue;
    groups.set(name, new UpstreamGroup(name, [...new Set(urls.map(nodeFor))]));
  }
  return groups;
}

function uniqueNodes(groups: ReadonlyMap<ServiceName, UpstreamGroup>): UpstreamNode[] {
  return [...new Set([...groups.values()].flatMap((group) => group.nodes))];
}
