import { mkdir } from 'node:fs/promises';
import { type Bus, createBus } from '@parley/bus';
import { type Cache, createCache } from '@parley/cache';
import type { Config, Lifecycle, Logger } from '@parley/kernel';
import { type Database, openDatabase } from '@parley/store';

export interface Infrastructure {
  database: Database;
  cache: Cache;
  bus: Bus;
}

/**
 * Opens the adapters the configuration asks for — embedded (PGlite, memory, in-process bus) unless
 * DATABASE_URL, REDIS_URL or NATS_URL say otherwise — and registers each for ordered shutdown.
 */
export async function openInfrastructure(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<Infrastructure> {
  if (!config.databaseUrl) await mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    logger,
  });
  lifecycle.onStop('database', () => database.close());
  const cache = openCache(config, logger, lifecycle);
  const bus = await createBus({
    natsUrl: config.natsUrl,
    stream: config.natsStream,
    subjectPrefix: config.natsSubjectPrefix,
    retentionMs: config.eventRetentionDays * 24 * 3600 * 1000,
    logger,
  });
  lifecycle.onStop('bus', () => bus.close());
  logger.info(
    {
      database: database.kind,
      cache: config.redisUrl ? 'redis' : 'memory',
      bus: config.natsUrl ? 'nats' : 'in-process',
    },
    'infrastructure ready',
  );
  return { database, cache, bus };
}

/** The cache alone: all a gateway-only process needs (rate limits, the token deny list). */
export function openCache(config: Config, logger: Logger, lifecycle: Lifecycle): Cache {
  const cache = createCache({ redisUrl: config.redisUrl, keyPrefix: config.cacheKeyPrefix, logger });
  lifecycle.onStop('cache', () => cache.close());
  return cache;
}
