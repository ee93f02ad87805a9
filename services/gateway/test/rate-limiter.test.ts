import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Cache, createCache, MemoryCache } from '@parley/cache';
import { testBackends } from '@parley/kernel/testing';
import { RateLimiter } from '../src/edge/rate-limiter.ts';

const { redisUrl } = testBackends();
const FLUSH_MS = 40;

async function hits(limiter: RateLimiter, subject: string, times: number) {
  const states = [];
  for (let i = 0; i < times; i++) states.push(await limiter.hit(subject));
  return states;
}

/** The shared count as a fresh observer sees it: one more increment, minus itself. */
async function sharedCount(cache: Cache, subject: string): Promise<number> {
  return (await cache.increment(`ratelimit:${subject}`, 60_000)).count - 1;
}

const backends: Array<[string, () => Cache]> = [['in memory', () => new MemoryCache()]];
if (redisUrl) {
  backends.push(['Redis', () => createCache({ redisUrl, keyPrefix: `test:ratelimit:${randomUUID()}:` })]);
}

for (const [name, open] of backends) {
  describe(`edge rate limiter over the cache (${name})`, () => {
    let cache: Cache;
    before(() => {
      cache = open();
    });
    after(async () => {
      await cache.close();
    });

    it('answers far from the limit without waiting, and shares the counts within a flush interval', async () => {
      const limiter = new RateLimiter(cache, 1000, { flushIntervalMs: FLUSH_MS });
      const subject = `far-${randomUUID()}`;
      const states = await hits(limiter, subject, 50);
      assert.deepEqual(
        states.map((state) => state.remaining),
        Array.from({ length: 50 }, (_, i) => 999 - i),
      );
      assert.ok(states.every((state) => !state.exceeded && state.resetSeconds === 60));
      await new Promise((resolve) => setTimeout(resolve, FLUSH_MS * 3));
      assert.equal(await sharedCount(cache, subject), 50);
      await limiter.close();
    });

    it('bounds the overshoot of two gateways sharing a window by their local counts', async () => {
      const a = new RateLimiter(cache, 100, { flushIntervalMs: 10_000 });
      const b = new RateLimiter(cache, 100, { flushIntervalMs: 10_000 });
      const subject = `two-${randomUUID()}`;
      // Neither flushes on its own within the test: only the exact zone makes them agree.
      const allowed = { a: 0, b: 0 };
      for (let i = 0; i < 150; i++) {
        const [limiter, side] = i % 3 === 0 ? [b, 'b' as const] : [a, 'a' as const];
        if (!(await limiter.hit(subject)).exceeded) allowed[side]++;
      }
      await a.close();
      await b.close();
      // With no flush in between, the overshoot is at most what one gateway held locally while the other
      // reached the exact zone: b's share, under 60 here.
      const total = allowed.a + allowed.b;
      assert.ok(total >= 100, `allowed ${total}: never fewer than the limit`);
      assert.ok(total <= 100 + 60, `allowed ${total}: overshoot bounded by the local counts`);
      assert.equal(await sharedCount(cache, subject), 150, 'every request counted once in the end');
    });

    it('counts every request of one gateway exactly: 429 right after the limit', async () => {
      const limiter = new RateLimiter(cache, 30, { flushIntervalMs: 10_000 });
      const subject = `exact-${randomUUID()}`;
      const states = await hits(limiter, subject, 32);
      assert.deepEqual(
        states.map((state) => state.exceeded),
        [...Array.from({ length: 30 }, () => false), true, true],
      );
      assert.deepEqual(
        states.slice(25).map((state) => state.remaining),
        [4, 3, 2, 1, 0, 0, 0],
      );
      await limiter.close();
      assert.equal(await sharedCount(cache, subject), 32);
    });

    it('hands its local counts to the cache when closed', async () => {
      const limiter = new RateLimiter(cache, 1000, { flushIntervalMs: 60_000 });
      const subject = `close-${randomUUID()}`;
      await hits(limiter, subject, 20);
      assert.equal(await sharedCount(cache, subject), 1, 'only the first request went to the cache');
      await limiter.close();
      assert.equal(await sharedCount(cache, subject), 21, 'the rest (and the observer) on close');
    });
  });
}

describe('edge rate limiter when the cache fails', () => {
  it('keeps the counts it could not share and adds them once the cache answers again', async () => {
    let failing = false;
    const failures: unknown[] = [];
    const cache = new MemoryCache();
    const flaky: Cache = Object.assign(Object.create(cache) as Cache, {
      increment: (key: string, windowMs: number, amount?: number) =>
        failing ? Promise.reject(new Error('cache down')) : cache.increment(key, windowMs, amount),
    });
    const limiter = new RateLimiter(flaky, 1000, {
      flushIntervalMs: 20,
      onFlushFailure: (error) => failures.push(error),
    });
    const subject = `flaky-${randomUUID()}`;
    await limiter.hit(subject);
    failing = true;
    await hits(limiter, subject, 10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(failures.length, 1, 'told once per outage, not on every retry');
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(await sharedCount(cache, subject), 11);
    await limiter.close();
    await cache.close();
  });
});
