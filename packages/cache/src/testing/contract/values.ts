import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './context.ts';
import { sleep, uniqueKey } from './helpers.ts';

export function describeValues(context: ContractContext): void {
  describe('get / set / delete', () => {
    it('returns null for a key never set', async () => {
      assert.equal(await context.cache().get(uniqueKey('missing')), null);
    });

    it('returns what was set, and the latest value after an overwrite', async () => {
      const cache = context.cache();
      const key = uniqueKey('value');
      await cache.set(key, 'first');
      assert.equal(await cache.get(key), 'first');
      await cache.set(key, 'second');
      assert.equal(await cache.get(key), 'second');
    });

    it('keeps values exactly, including empty and unicode strings', async () => {
      const cache = context.cache();
      for (const value of ['', ' padded ', 'ünïcødé ✓', '{"json":[1,2]}']) {
        const key = uniqueKey('exact');
        await cache.set(key, value);
        assert.equal(await cache.get(key), value);
      }
    });

    it('deletes a key; deleting a missing key is harmless', async () => {
      const cache = context.cache();
      const key = uniqueKey('delete');
      await cache.set(key, 'value');
      await cache.delete(key);
      assert.equal(await cache.get(key), null);
      await cache.delete(key);
    });

    it('deletes counters and member sets as well as values', async () => {
      const cache = context.cache();
      const counter = uniqueKey('delete-counter');
      const set = uniqueKey('delete-set');
      await cache.increment(counter, 60_000);
      await cache.addMember(set, 'member', 60_000);
      await cache.delete(counter);
      await cache.delete(set);
      assert.equal((await cache.increment(counter, 60_000)).count, 1);
      assert.deepEqual(await cache.members(set), []);
    });

    it('expires a value after its ttl', async () => {
      const cache = context.cache();
      const key = uniqueKey('ttl');
      await cache.set(key, 'value', 80);
      assert.equal(await cache.get(key), 'value');
      await sleep(150);
      assert.equal(await cache.get(key), null);
    });

    it('keeps a value set without ttl', async () => {
      const cache = context.cache();
      const key = uniqueKey('no-ttl');
      await cache.set(key, 'value');
      await sleep(150);
      assert.equal(await cache.get(key), 'value');
    });

    it('drops the old ttl when a value is set again without one', async () => {
      const cache = context.cache();
      const key = uniqueKey('ttl-cleared');
      await cache.set(key, 'short-lived', 80);
      await cache.set(key, 'lasting');
      await sleep(150);
      assert.equal(await cache.get(key), 'lasting');
    });

    it('rejects a ttl that is not a positive integer', async () => {
      const cache = context.cache();
      const key = uniqueKey('bad-ttl');
      for (const ttl of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(cache.set(key, 'value', ttl), RangeError);
        await assert.rejects(cache.setIfAbsent(key, 'value', ttl), RangeError);
        await assert.rejects(cache.increment(key, ttl), RangeError);
        await assert.rejects(cache.addMember(key, 'member', ttl), RangeError);
      }
      assert.equal(await cache.get(key), null);
    });
  });

  describe('setIfAbsent', () => {
    it('lets the first writer win and refuses the second', async () => {
      const cache = context.cache();
      const key = uniqueKey('claim');
      assert.equal(await cache.setIfAbsent(key, 'first', 60_000), true);
      assert.equal(await cache.setIfAbsent(key, 'second', 60_000), false);
      assert.equal(await cache.get(key), 'first');
    });

    it('elects exactly one winner among concurrent claims', async () => {
      const cache = context.cache();
      const key = uniqueKey('race');
      const claims = Array.from({ length: 50 }, (_, i) => cache.setIfAbsent(key, `writer-${i}`, 60_000));
      const results = await Promise.all(claims);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await cache.get(key), `writer-${results.indexOf(true)}`);
    });

    it('refuses a key stored by set', async () => {
      const cache = context.cache();
      const key = uniqueKey('claim-taken');
      await cache.set(key, 'existing');
      assert.equal(await cache.setIfAbsent(key, 'new', 60_000), false);
      assert.equal(await cache.get(key), 'existing');
    });

    it('succeeds again once the claim expired, and the claim itself expires', async () => {
      const cache = context.cache();
      const key = uniqueKey('claim-expiry');
      assert.equal(await cache.setIfAbsent(key, 'first', 80), true);
      await sleep(150);
      assert.equal(await cache.get(key), null);
      assert.equal(await cache.setIfAbsent(key, 'second', 60_000), true);
      assert.equal(await cache.get(key), 'second');
    });
  });
}
