import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractContext } from './context.ts';
import { sleep, subscribeInbox, uniqueKey, waitFor } from './helpers.ts';

const numbered = (count: number) => Array.from({ length: count }, (_, i) => `message-${i}`);

export function describePubSub(context: ContractContext): void {
  describe('publish / subscribe', () => {
    it('delivers messages in publish order', async (t) => {
      const cache = context.cache();
      const channel = uniqueKey('ordered');
      const inbox = await subscribeInbox(cache, channel);
      t.after(inbox.unsubscribe);
      for (const message of numbered(20)) await cache.publish(channel, message);
      await inbox.receive(20);
      assert.deepEqual(inbox.messages, numbered(20));
    });

    it('keeps publish order when publishes are not awaited one by one', async (t) => {
      const cache = context.cache();
      const channel = uniqueKey('burst');
      const inbox = await subscribeInbox(cache, channel);
      t.after(inbox.unsubscribe);
      await Promise.all(numbered(50).map((message) => cache.publish(channel, message)));
      await inbox.receive(50);
      assert.deepEqual(inbox.messages, numbered(50));
    });

    it('delivers asynchronously, never inside the publish call', async (t) => {
      const cache = context.cache();
      const channel = uniqueKey('async');
      const inbox = await subscribeInbox(cache, channel);
      t.after(inbox.unsubscribe);
      const published = cache.publish(channel, 'hello');
      assert.deepEqual(inbox.messages, []);
      await published;
      await inbox.receive(1);
    });

    it('delivers every message to every subscriber', async (t) => {
      const cache = context.cache();
      const channel = uniqueKey('fanout');
      const first = await subscribeInbox(cache, channel);
      const second = await subscribeInbox(cache, channel);
      t.after(first.unsubscribe);
      t.after(second.unsubscribe);
      await cache.publish(channel, 'one');
      await cache.publish(channel, 'two');
      await Promise.all([first.receive(2), second.receive(2)]);
      assert.deepEqual(first.messages, ['one', 'two']);
      assert.deepEqual(second.messages, ['one', 'two']);
    });

    it('stops delivering to a subscriber that unsubscribed, and only to it', async (t) => {
      const cache = context.cache();
      const channel = uniqueKey('unsubscribe');
      const leaving = await subscribeInbox(cache, channel);
      const staying = await subscribeInbox(cache, channel);
      t.after(staying.unsubscribe);
      await cache.publish(channel, 'before');
      await Promise.all([leaving.receive(1), staying.receive(1)]);
      await leaving.unsubscribe();
      await leaving.unsubscribe();
      await cache.publish(channel, 'after');
      await staying.receive(2);
      // Delivery to the remaining subscriber proves 'after' went out; give a stray copy time to show up.
      await sleep(50);
      assert.deepEqual(leaving.messages, ['before']);
      assert.deepEqual(staying.messages, ['before', 'after']);
    });

    it('delivers again to a channel subscribed anew after everyone left', async (t) => {
      const cache = context.cache();
      const channel = uniqueKey('resubscribe');
      const first = await subscribeInbox(cache, channel);
      await first.unsubscribe();
      const second = await subscribeInbox(cache, channel);
      t.after(second.unsubscribe);
      await cache.publish(channel, 'back');
      await second.receive(1);
      assert.deepEqual(first.messages, []);
    });

    it('keeps channels apart', async (t) => {
      const cache = context.cache();
      const mine = uniqueKey('mine');
      const other = uniqueKey('other');
      const inbox = await subscribeInbox(cache, mine);
      t.after(inbox.unsubscribe);
      await cache.publish(other, 'not for me');
      await cache.publish(mine, 'for me');
      await inbox.receive(1);
      await sleep(50);
      assert.deepEqual(inbox.messages, ['for me']);
    });

    it('keeps delivering to other handlers, and later messages, when a handler throws', async (t) => {
      const cache = context.cache();
      const channel = uniqueKey('throwing');
      const unsubscribeThrowing = await cache.subscribe(channel, () => {
        throw new Error('handler failure expected by the test');
      });
      const unsubscribeRejecting = await cache.subscribe(channel, async () => {
        throw new Error('async handler failure expected by the test');
      });
      const inbox = await subscribeInbox(cache, channel);
      t.after(unsubscribeThrowing);
      t.after(unsubscribeRejecting);
      t.after(inbox.unsubscribe);
      await cache.publish(channel, 'one');
      await cache.publish(channel, 'two');
      await inbox.receive(2);
      assert.deepEqual(inbox.messages, ['one', 'two']);
    });

    it('accepts a publish nobody listens to', async () => {
      await context.cache().publish(uniqueKey('silence'), 'into the void');
    });

    it('lets a handler unsubscribe itself while being called', async () => {
      const cache = context.cache();
      const channel = uniqueKey('self-unsubscribe');
      const received: string[] = [];
      const unsubscribe = await cache.subscribe(channel, (message) => {
        received.push(message);
        void unsubscribe();
      });
      await cache.publish(channel, 'first');
      await waitFor(() => received.length === 1, 'the first message');
      await cache.publish(channel, 'second');
      await sleep(50);
      assert.deepEqual(received, ['first']);
    });
  });
}
