import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './context.ts';
import { sleep, uniqueKey } from './helpers.ts';

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
}
