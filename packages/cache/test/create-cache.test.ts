import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '@parley/kernel';
import { createCache, MemoryCache, RedisCache } from '../src/index.ts';

describe('createCache', () => {
  it('keeps the cache in memory when no Redis URL is configured', async () => {
    const cache = createCache({ redisUrl: undefined, logger: createLogger({ level: 'silent' }) });
    assert.ok(cache instanceof MemoryCache);
    await cache.close();
  });

  it('uses Redis when a Redis URL is configured', async () => {
    // Nothing listens there: choosing the adapter must not need a reachable Redis.
    const cache = createCache({
      redisUrl: 'redis://127.0.0.1:1',
      keyPrefix: 'parley:',
      logger: createLogger({ level: 'silent' }),
    });
    assert.ok(cache instanceof RedisCache);
    await cache.close();
  });
});
