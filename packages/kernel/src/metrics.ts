import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** The metric types services record with, so that only the kernel depends on prom-client's version. */
export { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ProcessMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

/** One registry per app (not prom-client's global) so several apps can live in one test process. */
export function createProcessMetrics(prefix = ''): ProcessMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: 10 });
  const httpDuration = new Histogram({
    name: `${prefix}http_request_duration_seconds`,
    help: 'HTTP request latency by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, httpDuration };
}
