import type { App, ServicePlugin } from '@parley/kernel';

export interface GatewayDeps {
  /** The service plugins this process runs in-process (embedded mode mounts them all: no network hop). */
  services: ServicePlugin[];
}

/**
 * The edge. In embedded mode it mounts every service plugin in the process app, which already serves the
 * ops endpoints (/health, /ready, /metrics), the merged /openapi.json and /docs.
 */
export async function buildGateway(app: App, deps: GatewayDeps): Promise<void> {
  for (const service of deps.services) {
    await app.register(service.plugin);
  }
  app.get('/', { schema: { hide: true } }, async () => ({
    name: 'Parley',
    api: '/api/v1',
    docs: '/docs',
    openapi: '/openapi.json',
    services: deps.services.map((service) => service.name),
  }));
}
