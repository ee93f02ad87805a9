import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './context.ts';
import { sleep, subscribeInbox, uniqueKey } from './helpers.ts';

export function describeLifecycle(context: ContractContext): void {
  describe('ping and instances', () => {
    it('answers ping', async () => {
      await context.cache().ping();
    });

    if (context.sharesStateAcrossInstances) {
      it('shares values, counters, members and messages between instances', async (t) => {
        const a = context.cache();
        const b = await context.make();
        t.after(() => b.close());
        const key = uniqueKey('shared');
        await a.set(key, 'from a');
        assert.equal(await b.get(key), 'from a');
        const counter = uniqueKey('shared-counter');
        await a.increment(counter, 60_000);
        assert.equal((await b.increment(counter, 60_000)).count, 2);
        const set = uniqueKey('shared-set');
        await a.addMember(set, 'alice', 60_000);
        await b.addMember(set, 'bob', 60_000);
        assert.deepEqual((await a.members(set)).sort(), ['alice', 'bob']);
        const claim = uniqueKey('shared-claim');
        assert.equal(await a.setIfAbsent(claim, 'a', 60_000), true);
        assert.equal(await b.setIfAbsent(claim, 'b', 60_000), false);
        const channel = uniqueKey('shared-channel');
        const inbox = await subscribeInbox(b, channel);
        t.after(inbox.unsubscribe);
        await a.publish(channel, 'across');
        await inbox.receive(1);
        assert.deepEqual(inbox.messages, ['across']);
      });
    } else {
      it('keeps each instance to its own state', async (t) => {
        const a = context.cache();
        const b = await context.make();
        t.after(() => b.close());
        const key = uniqueKey('private');
        await a.set(key, 'from a');
        assert.equal(await b.get(key), null);
        const channel = uniqueKey('private-channel');
        const inbox = await subscribeInbox(b, channel);
        t.after(inbox.unsubscribe);
        await a.publish(channel, 'not across');
        await sleep(50);
        assert.deepEqual(inbox.messages, []);
      });
    }
  });

  describe('close', () => {
    it('rejects every operation after close, with a clear error', async () => {
      const cache = await context.make();
      await cache.close();
      const closed = /closed/i;
      await assert.rejects(cache.get('key'), closed);
      await assert.rejects(cache.set('key', 'value'), closed);
      await assert.rejects(cache.setIfAbsent('key', 'value', 1000), closed);
      await assert.rejects(cache.setIfGreater('key', 'value'), closed);
      await assert.rejects(cache.delete('key'), closed);
      await assert.rejects(cache.increment('key', 1000), closed);
      await assert.rejects(cache.addMember('key', 'member', 1000), closed);
      await assert.rejects(cache.removeMember('key', 'member'), closed);
      await assert.rejects(cache.members('key'), closed);
      await assert.rejects(cache.publish('channel', 'message'), closed);
      await assert.rejects(
        cache.subscribe('channel', () => {}),
        closed,
      );
      await assert.rejects(cache.ping(), closed);
    });

    it('can be closed twice, and closes with live subscriptions', async () => {
      const cache = await context.make();
      const unsubscribe = await cache.subscribe(uniqueKey('open'), () => {});
      await cache.close();
      await cache.close();
      await unsubscribe();
    });
  });
}
