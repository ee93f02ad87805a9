import type { Config, Logger, ServiceName, ServicePlugin } from '@parley/kernel';
import type { Infrastructure } from './infrastructure.ts';

type ServiceBuilder = (
  config: Config,
  infrastructure: Infrastructure,
  logger: Logger,
) => Promise<ServicePlugin>;

/** Every service that owns data and the function that builds its plugin from this process's adapters. */
const BUILDERS: Partial<Record<ServiceName, ServiceBuilder>> = {};

export function needsInfrastructure(config: Config): boolean {
  return [...config.services].some((name) => name !== 'gateway');
}

export async function buildServicePlugins(
  config: Config,
  infrastructure: Infrastructure,
  logger: Logger,
): Promise<ServicePlugin[]> {
  const plugins: ServicePlugin[] = [];
  for (const name of config.services) {
    const build = BUILDERS[name];
    if (build) plugins.push(await build(config, infrastructure, logger.child({ service: name })));
  }
  return plugins;
}
