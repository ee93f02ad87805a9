import type { Cache } from './cache.ts';
import type { CacheLogger } from './logger.ts';
import { MemoryCache } from './memory-cache.ts';
import { RedisCache } from './redis-cache.ts';

export interface CreateCacheOptions {
  /** Set when several processes must agree (a cluster); unset for a single process. */
  redisUrl?: string | undefined;
  /** Redis only: isolates this deployment's keys and channels in a shared Redis. */
  keyPrefix?: string | undefined;
  logger?: CacheLogger | undefined;
}

export function createCache(options: CreateCacheOptions = {}): Cache {
  const { redisUrl, keyPrefix, logger } = options;
  if (redisUrl) return new RedisCache({ url: redisUrl, keyPrefix, logger });
  return new MemoryCache({ logger });
}
