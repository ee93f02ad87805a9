import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './context.ts';
import { sleep, uniqueKey } from './helpers.ts';

export function describeCounters(context: ContractContext): void {
  describe('increment', () => {
    it('starts at 1 with the whole window left', async () => {
      const { count, ttlMs } = await context.cache().increment(uniqueKey('counter'), 60_000);
      assert.equal(count, 1);
      assert.ok(ttlMs > 59_000 && ttlMs <= 60_000, `ttlMs ${ttlMs} should be about the window`);
    });

    it('counts 200 concurrent increments exactly once each', async () => {
      const cache = context.cache();
      const key = uniqueKey('concurrent');
      const results = await Promise.all(Array.from({ length: 200 }, () => cache.increment(key, 60_000)));
      const counts = results.map((result) => result.count).sort((a, b) => a - b);
      assert.deepEqual(
        counts,
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.equal((await cache.increment(key, 60_000)).count, 201);
    });

    it('keeps the window from the first increment: later ones do not extend it', async () => {
      const cache = context.cache();
      const key = uniqueKey('window');
      const first = await cache.increment(key, 1000);
      await sleep(60);
      const second = await cache.increment(key, 1000);
      assert.equal(second.count, 2);
      assert.ok(second.ttlMs > 0, `ttlMs ${second.ttlMs} should be positive`);
      assert.ok(
        second.ttlMs <= first.ttlMs - 40,
        `ttlMs ${second.ttlMs} should have shrunk from ${first.ttlMs}`,
      );
    });

    it('starts a new window once the old one expired', async () => {
      const cache = context.cache();
      const key = uniqueKey('reset');
      await cache.increment(key, 80);
      assert.equal((await cache.increment(key, 80)).count, 2);
      await sleep(150);
      const fresh = await cache.increment(key, 80);
      assert.equal(fresh.count, 1);
      assert.ok(fresh.ttlMs > 0 && fresh.ttlMs <= 80, `ttlMs ${fresh.ttlMs} should be within the new window`);
    });

    it('adds an amount at once, counted with single increments alike', async () => {
      const cache = context.cache();
      const key = uniqueKey('amount');
      const first = await cache.increment(key, 60_000, 5);
      assert.equal(first.count, 5);
      assert.ok(first.ttlMs > 59_000 && first.ttlMs <= 60_000, `ttlMs ${first.ttlMs} should be the window`);
      const results = await Promise.all([
        cache.increment(key, 60_000, 10),
        cache.increment(key, 60_000),
        cache.increment(key, 60_000, 3),
      ]);
      assert.equal(Math.max(...results.map((result) => result.count)), 19);
      assert.equal((await cache.increment(key, 60_000)).count, 20);
    });

    it('refuses an amount that is not a positive integer, leaving the count alone', async () => {
      const cache = context.cache();
      const key = uniqueKey('bad-amount');
      await cache.increment(key, 60_000);
      for (const amount of [0, -1, 1.5, Number.NaN]) {
        await assert.rejects(cache.increment(key, 60_000, amount), RangeError);
      }
      assert.equal((await cache.increment(key, 60_000)).count, 2);
    });

    it('keeps separate counts for separate keys', async () => {
      const cache = context.cache();
      const a = uniqueKey('counter-a');
      const b = uniqueKey('counter-b');
      await cache.increment(a, 60_000);
      await cache.increment(a, 60_000);
      assert.equal((await cache.increment(b, 60_000)).count, 1);
      assert.equal((await cache.increment(a, 60_000)).count, 3);
    });
  });
}
