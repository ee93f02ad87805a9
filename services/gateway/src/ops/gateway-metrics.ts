import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { UpstreamGroup } from '../upstream/upstream-group.ts';

export interface GatewayMetrics {
  /** Whole proxied exchanges as the client saw them, by the service's route template. */
  routeDuration: Histogram<'service' | 'method' | 'route' | 'status_code'>;
  /** Time to an upstream's response headers, per node. */
  upstreamDuration: Histogram<'service' | 'upstream' | 'status_code'>;
  upstreamErrors: Counter<'service' | 'upstream' | 'kind'>;
  openSockets: Gauge<'service'>;
}

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createGatewayMetrics(registry: Registry, groups: readonly UpstreamGroup[]): GatewayMetrics {
  const metrics: GatewayMetrics = {
    routeDuration: new Histogram({
      name: 'gateway_route_duration_seconds',
      help: 'Proxied request latency seen by clients, by service, method, route template and status',
      labelNames: ['service', 'method', 'route', 'status_code'] as const,
      buckets: BUCKETS,
      registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: 'gateway_upstream_response_seconds',
      help: 'Time until an upstream node sent its response headers, by service, node and status',
      labelNames: ['service', 'upstream', 'status_code'] as const,
      buckets: BUCKETS,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'gateway_upstream_errors_total',
      help: 'Failed exchanges with upstream nodes by kind (connect, connect_timeout, reset, headers_timeout, body_timeout, status_5xx, unavailable)',
      labelNames: ['service', 'upstream', 'kind'] as const,
      registers: [registry],
    }),
    openSockets: new Gauge({
      name: 'gateway_open_websockets',
      help: 'WebSocket connections currently proxied to upstreams',
      labelNames: ['service'] as const,
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'gateway_upstream_available',
    help: '1 when the node takes traffic (healthy and its circuit not open), 0 otherwise',
    labelNames: ['service', 'upstream'] as const,
    registers: [registry],
    collect() {
      for (const group of groups) {
        for (const node of group.nodes)
          this.set({ service: group.service, upstream: group.label(node) }, node.isAvailable ? 1 : 0);
      }
    },
  });
  return metrics;
}
