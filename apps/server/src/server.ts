import { buildGateway } from '@parley/gateway';
import {
  type App,
  type Config,
  createProcessApp,
  Lifecycle,
  type Logger,
  type ServicePlugin,
} from '@parley/kernel';
import { type Infrastructure, openInfrastructure } from './infrastructure.ts';
import { buildServicePlugins, needsInfrastructure } from './services.ts';

export interface RunningServer {
  app: App;
  lifecycle: Lifecycle;
  url: string;
  infrastructure: Infrastructure | undefined;
}

/** Builds and starts everything this process runs, per configuration; `lifecycle.stop()` undoes it in order. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const lifecycle = new Lifecycle(logger);
  try {
    const infrastructure = needsInfrastructure(config)
      ? await openInfrastructure(config, logger, lifecycle)
      : undefined;
    const app = await createProcessApp({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      corsOrigins: config.corsOrigins,
      serveDocs: config.services.has('gateway'),
    });
    lifecycle.onStop('http', () => app.close());
    if (infrastructure) {
      app.readiness.add('database', () => infrastructure.database.ping());
      app.readiness.add('cache', () => infrastructure.cache.ping());
      app.readiness.add('bus', () => infrastructure.bus.ping());
    }
    const services: ServicePlugin[] = infrastructure
      ? await buildServicePlugins(config, infrastructure, logger)
      : [];
    if (config.services.has('gateway')) await buildGateway(app, { services });
    else for (const service of services) await app.register(service.plugin);
    const url = await app.listen({ port: config.port, host: config.host });
    logger.info({ url, services: [...config.services] }, 'Parley is listening');
    return { app, lifecycle, url, infrastructure };
  } catch (error) {
    await lifecycle.stop();
    throw error;
  }
}
