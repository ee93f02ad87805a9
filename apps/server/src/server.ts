import { fileURLToPath } from 'node:url';
import type { Cache } from '@parley/cache';
import { buildGateway } from '@parley/gateway';
import {
  type App,
  type Config,
  createProcessApp,
  Lifecycle,
  type Logger,
  resolveInternalToken,
  type ServicePlugin,
} from '@parley/kernel';
import { type Infrastructure, openCache, openInfrastructure } from './infrastructure.ts';
import { readyServices } from './ready-services.ts';
import { buildServicePlugins, needsInfrastructure } from './services.ts';

export interface RunningServer {
  app: App;
  lifecycle: Lifecycle;
  url: string;
  infrastructure: Infrastructure | undefined;
}

/** The web client's build output; served at `/` by the gateway once it exists. */
const WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Builds and starts everything this process runs, per configuration; `lifecycle.stop()` undoes it in order. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const lifecycle = new Lifecycle(logger);
  const runsGateway = config.services.has('gateway');
  try {
    const infrastructure = needsInfrastructure(config)
      ? await openInfrastructure(config, logger, lifecycle)
      : undefined;
    // A gateway-only process still counts requests and reads the token deny list.
    const cache: Cache | undefined =
      infrastructure?.cache ?? (runsGateway ? openCache(config, logger, lifecycle) : undefined);
    const app = await createProcessApp({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      requestTimeoutMs: config.requestTimeoutMs,
      corsOrigins: config.corsOrigins,
      serveDocs: runsGateway,
      trustProxy: config.trustProxy,
      // The token the services here already share (kept in the data dir when not configured).
      operatorToken:
        config.internalToken ?? (infrastructure ? await resolveInternalToken(config) : undefined),
      metricsToken: config.metricsToken,
    });
    lifecycle.onStop('http', () => app.close());
    if (infrastructure) {
      app.readiness.add('database', () => infrastructure.database.ping());
      app.readiness.add('bus', () => infrastructure.bus.ping());
    }
    if (cache) app.readiness.add('cache', () => cache.ping());
    const services: ServicePlugin[] = infrastructure
      ? await buildServicePlugins(config, infrastructure, logger)
      : [];
    if (runsGateway) {
      await buildGateway(app, { config, services, cache, logger, webRoot: WEB_ROOT });
    } else {
      for (const service of services) await app.register(service.plugin);
    }
    await readyServices(app, infrastructure?.bus);
    const url = await app.listen({ port: config.port, host: config.host });
    logger.info(
      { url, services: [...config.services], upstreams: Object.keys(config.upstreams) },
      'Parley is listening',
    );
    return { app, lifecycle, url, infrastructure };
  } catch (error) {
    await lifecycle.stop();
    throw error;
  }
}
