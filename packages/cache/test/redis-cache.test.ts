import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { Redis } from 'ioredis';
import { RedisCache } from '../src/redis-cache.ts';
import { sleep, waitFor } from '../src/testing/contract/helpers.ts';
import { runCacheContract } from '../src/testing/index.ts';
import { recordingLogger } from './recording-logger.ts';

const { redisUrl } = testBackends();
const keyPrefix = `test:${randomUUID()}:`;

/** Removes what this run stored, so repeated runs do not fill the shared Redis. */
async function deleteKeysWithPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

describe('RedisCache against a real Redis', {
  skip: redisUrl ? false : skipReason('REDIS_URL', 'Redis cache contract'),
}, () => {
  if (!redisUrl) return;
  const url = redisUrl;

  after(() => deleteKeysWithPrefix(url, keyPrefix));

  runCacheContract('RedisCache', async () => new RedisCache({ url, keyPrefix, logger: recordingLogger() }), {
    sharesStateAcrossInstances: true,
  });

  it('isolates caches with different prefixes, keys (setIfGreater included) and channels alike', async (t) => {
    const mine = new RedisCache({ url, keyPrefix, logger: recordingLogger() });
    const other = new RedisCache({ url, keyPrefix: `${keyPrefix}other:`, logger: recordingLogger() });
    t.after(() => Promise.all([mine.close(), other.close()]));
    await mine.set('key', 'mine');
    assert.equal(await other.get('key'), null);
    assert.equal(await mine.setIfGreater('greatest', 'b'), 'b');
    assert.equal(await other.get('greatest'), null);
    assert.equal(await other.setIfGreater('greatest', 'a'), 'a');
    assert.equal(await mine.get('greatest'), 'b');
    const received: string[] = [];
    const unsubscribe = await other.subscribe('channel', (message) => received.push(message));
    t.after(unsubscribe);
    await mine.publish('channel', 'mine');
    await other.publish('channel', 'other');
    await waitFor(() => received.length > 0, 'the message on the other prefix');
    await sleep(50);
    assert.deepEqual(received, ['other']);
  });
});

describe('RedisCache without a reachable Redis', () => {
  it('fails ping within a few seconds instead of hanging, and still closes', async () => {
    const logger = recordingLogger();
    const cache = new RedisCache({ url: 'redis://127.0.0.1:1', logger });
    const started = performance.now();
    await assert.rejects(cache.ping());
    await assert.rejects(cache.get('key'));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 5000, `took ${Math.round(elapsed)} ms`);
    assert.ok(
      logger.lines.some((line) => line.level === 'warn'),
      'the connection failure is logged',
    );
    await cache.close();
  });

  it('fails subscribe too, and closes the subscriber connection', async () => {
    const cache = new RedisCache({ url: 'redis://127.0.0.1:1', logger: recordingLogger() });
    await assert.rejects(cache.subscribe('channel', () => {}));
    await cache.close();
  });
});
