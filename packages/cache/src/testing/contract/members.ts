import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './context.ts';
import { concurrentWriters, sleep, uniqueKey } from './helpers.ts';

const sorted = (members: string[]) => [...members].sort();

export function describeMembers(context: ContractContext): void {
  describe('members', () => {
    it('is empty for a key never used', async () => {
      assert.deepEqual(await context.cache().members(uniqueKey('nobody')), []);
    });

    it('returns every member added, each once', async () => {
      const cache = context.cache();
      const key = uniqueKey('room');
      await cache.addMember(key, 'alice', 60_000);
      await cache.addMember(key, 'bob', 60_000);
      await cache.addMember(key, 'alice', 60_000);
      assert.deepEqual(sorted(await cache.members(key)), ['alice', 'bob']);
    });

    it('removes a member; removing an absent one is harmless', async () => {
      const cache = context.cache();
      const key = uniqueKey('leave');
      await cache.addMember(key, 'alice', 60_000);
      await cache.addMember(key, 'bob', 60_000);
      await cache.removeMember(key, 'alice');
      await cache.removeMember(key, 'carol');
      await cache.removeMember(uniqueKey('no-set'), 'alice');
      assert.deepEqual(await cache.members(key), ['bob']);
    });

    it('expires each member on its own, even when a longer-lived one was added last', async () => {
      const cache = context.cache();
      const key = uniqueKey('presence');
      await cache.addMember(key, 'short', 80);
      await cache.addMember(key, 'long', 400);
      assert.deepEqual(sorted(await cache.members(key)), ['long', 'short']);
      await sleep(150);
      assert.deepEqual(await cache.members(key), ['long']);
      await sleep(300);
      assert.deepEqual(await cache.members(key), []);
    });

    it('outlives a short-lived member when a longer-lived one was added first', async () => {
      const cache = context.cache();
      const key = uniqueKey('presence-order');
      await cache.addMember(key, 'long', 400);
      await cache.addMember(key, 'short', 80);
      await sleep(150);
      assert.deepEqual(await cache.members(key), ['long']);
    });

    it('refreshes the expiry of a member added again', async () => {
      const cache = context.cache();
      const key = uniqueKey('heartbeat');
      await cache.addMember(key, 'alice', 200);
      await sleep(120);
      await cache.addMember(key, 'alice', 200);
      await sleep(120);
      assert.deepEqual(await cache.members(key), ['alice']);
      await sleep(150);
      assert.deepEqual(await cache.members(key), []);
    });

    it('takes the new ttl when a member is added again with a shorter one', async () => {
      const cache = context.cache();
      const key = uniqueKey('shorten');
      await cache.addMember(key, 'alice', 60_000);
      await cache.addMember(key, 'alice', 80);
      await sleep(150);
      assert.deepEqual(await cache.members(key), []);
    });

    it('keeps member sets of different keys apart', async () => {
      const cache = context.cache();
      const a = uniqueKey('set-a');
      const b = uniqueKey('set-b');
      await cache.addMember(a, 'alice', 60_000);
      await cache.addMember(b, 'bob', 60_000);
      assert.deepEqual(await cache.members(a), ['alice']);
      assert.deepEqual(await cache.members(b), ['bob']);
    });
  });

  describe('member transitions (first member in, last member out)', () => {
    it('says an add was first only when the set had no member', async () => {
      const cache = context.cache();
      const key = uniqueKey('first');
      assert.equal(await cache.addMember(key, 'alice', 60_000), true);
      assert.equal(await cache.addMember(key, 'bob', 60_000), false);
      assert.equal(await cache.addMember(key, 'alice', 60_000), false, 'a refresh is not a first add');
    });

    it('says how many members a removal left, an absent member or set included', async () => {
      const cache = context.cache();
      const key = uniqueKey('left');
      await cache.addMember(key, 'alice', 60_000);
      await cache.addMember(key, 'bob', 60_000);
      assert.equal(await cache.removeMember(key, 'carol'), 2);
      assert.equal(await cache.removeMember(key, 'alice'), 1);
      assert.equal(await cache.removeMember(key, 'alice'), 1);
      assert.equal(await cache.removeMember(key, 'bob'), 0);
      assert.equal(await cache.removeMember(uniqueKey('no-set'), 'alice'), 0);
    });

    it('takes an add to a set emptied by removal for a first add again', async () => {
      const cache = context.cache();
      const key = uniqueKey('again');
      assert.equal(await cache.addMember(key, 'alice', 60_000), true);
      assert.equal(await cache.removeMember(key, 'alice'), 0);
      assert.equal(await cache.addMember(key, 'alice', 60_000), true);
    });

    it('takes an add to a set whose members all expired for a first add', async () => {
      const cache = context.cache();
      const key = uniqueKey('expired-first');
      await cache.addMember(key, 'short', 80);
      await sleep(150);
      assert.equal(await cache.addMember(key, 'later', 60_000), true);
    });

    it('counts only the live members, before an add and after a removal', async () => {
      const cache = context.cache();
      const key = uniqueKey('expired-left');
      await cache.addMember(key, 'short', 80);
      await cache.addMember(key, 'long', 60_000);
      await sleep(150);
      assert.equal(
        await cache.addMember(key, 'later', 60_000),
        false,
        'the long-lived member is still there',
      );
      assert.equal(await cache.removeMember(key, 'later'), 1);
      assert.equal(await cache.removeMember(key, 'long'), 0, 'the expired member does not count');
      assert.equal(await cache.addMember(key, 'short', 60_000), true);
    });

    it('makes exactly one of many simultaneous adds the first, across instances where state is shared', async () => {
      const writers = await concurrentWriters(context);
      try {
        const key = uniqueKey('first-race');
        const firsts = await Promise.all(
          Array.from({ length: 20 }, (_, i) => writers.cache(i).addMember(key, `m${i}`, 60_000)),
        );
        assert.equal(firsts.filter(Boolean).length, 1);
      } finally {
        await writers.close();
      }
    });

    it('gives each of many simultaneous removals its own count, so exactly one leaves the set empty', async () => {
      const writers = await concurrentWriters(context);
      try {
        const key = uniqueKey('last-race');
        const members = Array.from({ length: 20 }, (_, i) => `m${i}`);
        for (const member of members) await context.cache().addMember(key, member, 60_000);
        const left = await Promise.all(
          members.map((member, i) => writers.cache(i).removeMember(key, member)),
        );
        assert.deepEqual(
          [...left].sort((a, b) => a - b),
          members.map((_, i) => i),
        );
      } finally {
        await writers.close();
      }
    });
  });
}
