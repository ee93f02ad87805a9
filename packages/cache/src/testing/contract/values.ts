import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './context.ts';
import { concurrentWriters, sleep, uniqueKey } from './helpers.ts';

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

  describe('setIfGreater', () => {
    it('stores a value when the key is absent, and returns it', async () => {
      const cache = context.cache();
      const key = uniqueKey('greater-absent');
      assert.equal(await cache.setIfGreater(key, '2026-12-03T06:00:00.000Z'), '2026-12-03T06:00:00.000Z');
      assert.equal(await cache.get(key), '2026-12-03T06:00:00.000Z');
    });

    it('keeps a greater or equal value held, and returns that', async () => {
      const cache = context.cache();
      const key = uniqueKey('greater-kept');
      await cache.set(key, '2026-12-03T06:00:00.000Z');
      assert.equal(await cache.setIfGreater(key, '2026-12-03T05:00:00.000Z'), '2026-12-03T06:00:00.000Z');
      assert.equal(await cache.setIfGreater(key, '2026-12-03T06:00:00.000Z'), '2026-12-03T06:00:00.000Z');
      assert.equal(await cache.get(key), '2026-12-03T06:00:00.000Z');
    });

    it('replaces a lesser value held, and returns the new one', async () => {
      const cache = context.cache();
      const key = uniqueKey('greater-replaced');
      await cache.set(key, '2026-12-03T05:00:00.000Z');
      assert.equal(await cache.setIfGreater(key, '2026-12-03T06:00:00.000Z'), '2026-12-03T06:00:00.000Z');
      assert.equal(await cache.get(key), '2026-12-03T06:00:00.000Z');
    });

    it('orders ISO 8601 UTC timestamps as the times they name, across second, hour, day and year', async () => {
      const cache = context.cache();
      const boundaries = [
        ['2026-12-03T05:59:59.999Z', '2026-12-03T06:00:00.000Z'],
        ['2026-12-03T09:59:59.999Z', '2026-12-03T10:00:00.000Z'],
        ['2026-02-28T23:59:59.999Z', '2026-03-01T00:00:00.000Z'],
        ['2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z'],
      ];
      for (const [earlier, later] of boundaries as [string, string][]) {
        const key = uniqueKey('greater-time');
        assert.equal(await cache.setIfGreater(key, later), later);
        assert.equal(await cache.setIfGreater(key, earlier), later, `${earlier} is before ${later}`);
        const other = uniqueKey('greater-time');
        assert.equal(await cache.setIfGreater(other, earlier), earlier);
        assert.equal(await cache.setIfGreater(other, later), later, `${later} is after ${earlier}`);
      }
    });

    it('compares bytes as UTF-8, not by locale or UTF-16 code units; a prefix is the lesser', async () => {
      const cache = context.cache();
      // Collation in a locale such as en_US puts 'a' before 'B' and 'Z'; UTF-16 code units put U+1F600
      // (a surrogate pair) before U+FFFF; a comparison that stops at the shorter string takes them as equal.
      const ascending = [
        ['B', 'a'],
        ['Z', 'a'],
        ['2026-12-03', '2026-12-03T'],
        ['\uffff', '\u{1f600}'],
      ];
      for (const [lesser, greater] of ascending as [string, string][]) {
        const key = uniqueKey('greater-bytes');
        assert.equal(await cache.setIfGreater(key, greater), greater);
        assert.equal(await cache.setIfGreater(key, lesser), greater, `${lesser} is the lesser of ${greater}`);
        const other = uniqueKey('greater-bytes');
        assert.equal(await cache.setIfGreater(other, lesser), lesser);
        assert.equal(
          await cache.setIfGreater(other, greater),
          greater,
          `${greater} is the greater of ${lesser}`,
        );
      }
    });

    it('keeps no ttl on what it stores, and the ttl of a value it leaves in place', async () => {
      const cache = context.cache();
      const replaced = uniqueKey('greater-ttl-replaced');
      await cache.set(replaced, 'a', 80);
      assert.equal(await cache.setIfGreater(replaced, 'b'), 'b');
      const kept = uniqueKey('greater-ttl-kept');
      await cache.set(kept, 'b', 80);
      assert.equal(await cache.setIfGreater(kept, 'a'), 'b');
      await sleep(150);
      assert.equal(await cache.get(replaced), 'b');
      assert.equal(
        await cache.setIfGreater(kept, 'a'),
        'a',
        'the value left in place expired, and counts for none',
      );
      assert.equal(await cache.get(kept), 'a');
    });

    it('ends with the greatest of many concurrent values, each call told one at least its own', async () => {
      const writers = await concurrentWriters(context);
      try {
        const key = uniqueKey('greater-race');
        // Milliseconds either side of a second boundary, written in random order; the greatest never
        // last, so a call that stores without comparing leaves another value behind.
        const start = Date.parse('2026-12-03T05:59:59.950Z');
        const times = Array.from({ length: 100 }, (_, i) => new Date(start + i).toISOString());
        const shuffled = shuffle(times);
        const results = await Promise.all(
          shuffled.map((time, i) => writers.cache(i).setIfGreater(key, time)),
        );
        for (const [i, result] of results.entries()) {
          assert.ok(result >= shuffled[i]!, `call ${i} wrote ${shuffled[i]} and was told ${result}`);
        }
        assert.equal(await context.cache().get(key), times.at(-1));
      } finally {
        await writers.close();
      }
    });
  });
}

/** A random order of the values in which the greatest (the last of them) never comes last. */
function shuffle<T>(values: T[]): T[] {
  const shuffled = [...values];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const greatest = shuffled.indexOf(values.at(-1)!);
  if (greatest === shuffled.length - 1)
    [shuffled[0], shuffled[greatest]] = [shuffled[greatest]!, shuffled[0]!];
  return shuffled;
}
