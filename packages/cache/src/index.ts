export * from './cache.ts';
export * from './create-cache.ts';
export * from './errors.ts';
export type { CacheLogger } from './logger.ts';
export * from './memory-cache.ts';
export * from './redis-cache.ts';
