import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { EventEnvelope } from '@parley/kernel';
import type { Bus, Delivery, Subscription } from '../bus.ts';
import { Recorder, sampleEvent, uniqueGroup, uniqueToken } from './fixtures.ts';
import { queueLastDelivery } from './last-delivery.ts';
import { runVolatileEventsContract } from './volatile-events-contract.ts';
import { settle, waitFor } from './wait.ts';

export interface BusContractOptions {
  /**
   * True when the bus itself drops a re-published event id (JetStream's duplicate window). False for a bus
   * that delivers it again and leaves de-duplication to idempotent consumers: the suite then only checks
   * at-least-once delivery (the default, as the port promises no more).
   */
  deduplicatesById?: boolean;
  /**
   * A second bus that subscribes the way another process of the same deployment would. Defaults to
   * `make()`, a separate connection. An in-process bus can only share consumer groups within one instance
   * (two instances are two processes that never see each other's events), so it returns `bus` itself: the
   * test still checks that two subscriptions of a group split the events exactly.
   */
  peer?: (bus: Bus) => Promise<Bus>;
}

/** Backoff for the failure tests: small enough that retries don't slow the suite down. */
const QUICK_RETRY = (): number => 20;

/** The behaviour every Bus adapter must share, run against each of them. */
export function runBusContract(
  name: string,
  make: () => Promise<Bus>,
  options: BusContractOptions = {},
): void {
  describe(`Bus contract: ${name}`, () => {
    const opened = new Set<Bus>();
    const open = async (): Promise<Bus> => {
      const bus = await make();
      opened.add(bus);
      return bus;
    };
    const openPeer = async (bus: Bus): Promise<Bus> => {
      const peer = options.peer ? await options.peer(bus) : await make();
      opened.add(peer);
      return peer;
    };

    afterEach(async () => {
      await Promise.all([...opened].map((bus) => bus.close()));
      opened.clear();
    });

    it('delivers an event published after subscribe once, with its envelope intact', async () => {
      const bus = await open();
      const type = `${uniqueToken('deliver')}.message.created`;
      const recorder = new Recorder();
      await bus.subscribe({ group: uniqueGroup('deliver'), subjects: [type], handler: recorder.handler });

      const event = sampleEvent(type, { text: 'hello', nested: { list: [1, 'two', null], flag: true } });
      await bus.publish(event);
      const fence = sampleEvent(type);
      await bus.publish(fence);
      await waitFor(() => recorder.has(fence.id), 'the fence event');

      assert.deepEqual(recorder.ids(), [event.id, fence.id]);
      assert.deepEqual(recorder.received[0], { event, attempt: 1 });
    });

    it('delivers an event published in its wire form as the envelope its JSON holds', async () => {
      const bus = await open();
      const type = `${uniqueToken('wire')}.message.created`;
      const recorder = new Recorder();
      await bus.subscribe({ group: uniqueGroup('wire'), subjects: [type], handler: recorder.handler });

      const event = sampleEvent(type, { text: 'line one\nline two', nested: { list: [1, 'two', null] } });
      // Formatted as PostgreSQL renders jsonb (chat's send statement): spaces after separators, keys reordered.
      const json = `{${Object.entries(event)
        .reverse()
        .map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value, null, 1)}`)
        .join(', ')}}`;
      await bus.publish({ id: event.id, type, json });
      await waitFor(() => recorder.has(event.id), 'the serialized event');

      assert.deepEqual(recorder.received, [{ event, attempt: 1 }]);
    });

    it('gives a new group the events published before it first subscribed, in order, then the new ones', async () => {
      const bus = await open();
      const type = `${uniqueToken('late')}.created`;
      const before = [sampleEvent(type, { n: 1 }), sampleEvent(type, { n: 2 })];
      for (const event of before) await bus.publish(event);
      await bus.publish(sampleEvent(`${uniqueToken('other')}.created`));

      // A service that starts (or is deployed) after another has published: nothing is lost to it.
      const recorder = new Recorder();
      await bus.subscribe({ group: uniqueGroup('late'), subjects: [type], handler: recorder.handler });
      const after = sampleEvent(type, { n: 3 });
      await bus.publish(after);
      await waitFor(() => recorder.has(after.id), 'the event published after subscribe');
      await settle();

      assert.deepEqual(
        recorder.ids(),
        [...before, after].map((event) => event.id),
      );
      assert.ok(recorder.received.every(({ attempt }) => attempt === 1));
    });

    it('matches subject patterns as NATS does: * one token, > one or more', async () => {
      const bus = await open();
      const p = uniqueToken('pattern');
      const patterns = {
        star: `${p}.*`,
        tail: `${p}.>`,
        middle: `${p}.*.b`,
        literals: [`${p}.x`, `${p}.y.b`],
      };
      const star = new Recorder();
      const tail = new Recorder();
      const middle = new Recorder();
      const literals = new Recorder();
      await bus.subscribe({ group: uniqueGroup('star'), subjects: [patterns.star], handler: star.handler });
      await bus.subscribe({ group: uniqueGroup('tail'), subjects: [patterns.tail], handler: tail.handler });
      await bus.subscribe({
        group: uniqueGroup('mid'),
        subjects: [patterns.middle],
        handler: middle.handler,
      });
      await bus.subscribe({
        group: uniqueGroup('lit'),
        subjects: patterns.literals,
        handler: literals.handler,
      });

      const bare = sampleEvent(p);
      const ab = sampleEvent(`${p}.a.b`);
      const x = sampleEvent(`${p}.x`);
      const yb = sampleEvent(`${p}.y.b`);
      const abc = sampleEvent(`${p}.a.b.c`);
      for (const event of [bare, ab, x, yb, abc]) await bus.publish(event);

      await waitFor(() => star.has(x.id), '* to match x');
      await waitFor(() => tail.has(abc.id), '> to match a.b.c');
      await waitFor(() => middle.has(yb.id), '*.b to match y.b');
      await waitFor(() => literals.has(x.id) && literals.has(yb.id), 'both literal subjects');
      await settle();

      assert.deepEqual(star.ids(), [x.id]);
      assert.deepEqual(tail.ids(), [ab.id, x.id, yb.id, abc.id]);
      assert.deepEqual(middle.ids(), [ab.id, yb.id]);
      assert.deepEqual(new Set(literals.ids()), new Set([x.id, yb.id]));
      assert.equal(literals.received.length, 2);
    });

    it('gives every group every event', async () => {
      const bus = await open();
      const type = `${uniqueToken('groups')}.created`;
      const first = new Recorder();
      const second = new Recorder();
      await bus.subscribe({ group: uniqueGroup('first'), subjects: [type], handler: first.handler });
      await bus.subscribe({ group: uniqueGroup('second'), subjects: [type], handler: second.handler });

      const events = Array.from({ length: 5 }, (_, n) => sampleEvent(type, { n }));
      for (const event of events) await bus.publish(event);
      const last = events.at(-1)!;
      await waitFor(() => first.has(last.id) && second.has(last.id), 'both groups to get the last event');

      const ids = events.map((event) => event.id);
      assert.deepEqual(first.ids(), ids);
      assert.deepEqual(second.ids(), ids);
    });

    it('splits a group between two subscribers: each event handled by exactly one of them', async () => {
      const bus = await open();
      const peer = await openPeer(bus);
      const type = `${uniqueToken('split')}.created`;
      const group = uniqueGroup('split');
      const handledBy = new Map<string, string[]>();
      const handlerFor = (who: string) => async (event: EventEnvelope) => {
        handledBy.set(event.id, [...(handledBy.get(event.id) ?? []), who]);
        // A little work per event, so both subscribers are busy at once as they would be in production.
        await delay(2);
      };
      await bus.subscribe({ group, subjects: [type], handler: handlerFor('first') });
      await peer.subscribe({ group, subjects: [type], handler: handlerFor('second') });

      const events = Array.from({ length: 50 }, (_, n) => sampleEvent(type, { n }));
      for (const event of events) await bus.publish(event);
      await waitFor(() => handledBy.size === events.length, 'all 50 events to be handled');
      await settle();

      events.forEach((event, n) => {
        assert.equal(handledBy.get(event.id)?.length, 1, `event ${n} handled exactly once`);
      });
      const handlers = [...handledBy.values()].map(([who]) => who);
      const shares = ['first', 'second'].map((who) => handlers.filter((handler) => handler === who).length);
      assert.ok(
        shares.every((share) => share > 0),
        `both subscribers took a share: ${shares.join(' + ')}`,
      );
    });

    it('hands the events a closing subscriber had not started to the rest of its group, promptly', async () => {
      const bus = await open();
      const peer = await openPeer(bus);
      const type = `${uniqueToken('handoff')}.created`;
      const group = uniqueGroup('handoff');
      const handled = new Map<string, number>();
      const count = (event: EventEnvelope): void =>
        void handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
      const leaving = await bus.subscribe({
        group,
        subjects: [type],
        handler: async (event) => {
          count(event);
          await delay(50);
        },
      });
      await peer.subscribe({ group, subjects: [type], handler: async (event) => count(event) });

      const events = Array.from({ length: 30 }, (_, n) => sampleEvent(type, { n }));
      for (const event of events) await bus.publish(event);
      await waitFor(() => handled.size > 0, 'the first event');
      await leaving.close();
      // Well under the NATS ack wait (30 s): the handoff must not rely on it expiring.
      await waitFor(
        () => handled.size === events.length,
        'the remaining subscriber to handle every event',
        5_000,
      );
      await settle();

      assert.ok(
        [...handled.values()].every((times) => times === 1),
        'every event handled exactly once',
      );
    });

    it('redelivers a failed event with increasing attempts until it succeeds', async () => {
      const bus = await open();
      const type = `${uniqueToken('retry')}.created`;
      const attempts: number[] = [];
      let handled = false;
      await bus.subscribe({
        group: uniqueGroup('retry'),
        subjects: [type],
        maxDeliver: 5,
        backoffMs: QUICK_RETRY,
        handler: async (_event, { attempt }) => {
          attempts.push(attempt);
          if (attempt < 3) throw new Error(`failure ${attempt}`);
          handled = true;
        },
      });

      await bus.publish(sampleEvent(type));
      await waitFor(() => handled, 'the third attempt to succeed');
      await settle();

      assert.deepEqual(attempts, [1, 2, 3]);
    });

    it('dead-letters an event exactly once after maxDeliver failed attempts, then moves on', async () => {
      const bus = await open();
      const type = `${uniqueToken('dead')}.created`;
      const poison = sampleEvent(type, { poison: true });
      const healthy = sampleEvent(type, { poison: false });
      const attempts: number[] = [];
      const handled: string[] = [];
      const deadLetters: { event: EventEnvelope; error: unknown; attempts: number }[] = [];
      await bus.subscribe({
        group: uniqueGroup('dead'),
        subjects: [type],
        maxDeliver: 3,
        backoffMs: QUICK_RETRY,
        handler: async (event, { attempt }) => {
          if (event.id !== poison.id) {
            handled.push(event.id);
            return;
          }
          attempts.push(attempt);
          throw new Error('always fails');
        },
        onDeadLetter: async (event, error, attemptCount) => {
          deadLetters.push({ event, error, attempts: attemptCount });
        },
      });

      await bus.publish(poison);
      await bus.publish(healthy);
      await waitFor(() => deadLetters.length > 0 && handled.length > 0, 'the dead letter and the next event');
      await settle();

      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(deadLetters.length, 1);
      const [deadLetter] = deadLetters;
      assert.deepEqual(deadLetter?.event, poison);
      assert.equal(deadLetter?.attempts, 3);
      assert.ok(deadLetter?.error instanceof Error && deadLetter.error.message === 'always fails');
      assert.deepEqual(handled, [healthy.id]);
    });

    it('applies a raised maxDeliver to a group that already exists (a new deployment)', async () => {
      const bus = await open();
      const type = `${uniqueToken('raise')}.created`;
      const group = uniqueGroup('raise');
      const handler = async (): Promise<void> => {};
      await (await bus.subscribe({ group, subjects: [type], maxDeliver: 2, handler })).close();

      const attempts: number[] = [];
      const deadLetterAttempts: number[] = [];
      await bus.subscribe({
        group,
        subjects: [type],
        maxDeliver: 4,
        backoffMs: QUICK_RETRY,
        handler: async (_event, { attempt }) => {
          attempts.push(attempt);
          throw new Error('always fails');
        },
        onDeadLetter: async (_event, _error, attemptCount) => void deadLetterAttempts.push(attemptCount),
      });
      await bus.publish(sampleEvent(type));
      await waitFor(() => deadLetterAttempts.length > 0, 'the dead letter after the fourth attempt');

      assert.deepEqual(attempts, [1, 2, 3, 4]);
      assert.deepEqual(deadLetterAttempts, [4]);
    });

    it('dead-letters, without running the handler, a delivery past maxDeliver (a lowered limit)', async () => {
      const bus = await open();
      const type = `${uniqueToken('past')}.created`;
      const group = uniqueGroup('past');
      const firstAttempts: number[] = [];
      const first = await bus.subscribe({
        group,
        subjects: [type],
        maxDeliver: 5,
        // Long enough that the third delivery is still ahead when this subscription has closed.
        backoffMs: () => 300,
        handler: async (_event, { attempt }) => {
          firstAttempts.push(attempt);
          throw new Error(`failure ${attempt}`);
        },
      });
      const event = sampleEvent(type);
      await bus.publish(event);
      await waitFor(() => firstAttempts.length === 2, 'two failed attempts');
      await first.close();

      const laterAttempts: number[] = [];
      const deadLetters: { event: EventEnvelope; attempts: number }[] = [];
      await bus.subscribe({
        group,
        subjects: [type],
        maxDeliver: 2,
        backoffMs: QUICK_RETRY,
        handler: async (_event, { attempt }) => void laterAttempts.push(attempt),
        onDeadLetter: async (dead, _error, attempts) => void deadLetters.push({ event: dead, attempts }),
      });
      await waitFor(() => deadLetters.length > 0, 'the dead letter of the third delivery');
      await settle();

      assert.deepEqual(firstAttempts, [1, 2]);
      assert.deepEqual(laterAttempts, [], 'the handler never ran past the limit');
      assert.equal(deadLetters.length, 1);
      assert.deepEqual(deadLetters[0]?.event, event);
      assert.ok((deadLetters[0]?.attempts ?? 0) >= 2, 'reports the deliveries before this one');
    });

    it('hands an event whose last delivery waited in a closing subscriber to the rest of its group', async () => {
      const bus = await open();
      const peer = await openPeer(bus);
      const { group, subjects, flaky, subscriber: leaving } = await queueLastDelivery(bus, 'lastclose');

      // A rolling restart: the new subscriber is up, then the old one closes with that delivery not started.
      const outcomes: string[] = [];
      await peer.subscribe({
        group,
        subjects,
        maxDeliver: 2,
        handler: async (event) => void outcomes.push(`handled ${event.id}`),
        onDeadLetter: async (event) => void outcomes.push(`dead ${event.id}`),
      });
      await leaving.close();
      // Well under the NATS ack wait: the event is handed back at close, not left to time out.
      await waitFor(
        () => outcomes.some((outcome) => outcome.endsWith(flaky.id)),
        'the flaky event to be handled or dead-lettered',
        5_000,
      );
      await settle();

      assert.equal(outcomes.filter((outcome) => outcome.endsWith(flaky.id)).length, 1, outcomes.join(', '));
    });

    it('keeps delivering when the dead-letter handler itself throws', async () => {
      const bus = await open();
      const type = `${uniqueToken('sink')}.created`;
      const poison = sampleEvent(type);
      const next = sampleEvent(type);
      const recorder = new Recorder();
      let sinkCalls = 0;
      await bus.subscribe({
        group: uniqueGroup('sink'),
        subjects: [type],
        maxDeliver: 1,
        handler: async (event, delivery: Delivery) => {
          if (event.id === poison.id) throw new Error('poison');
          await recorder.handler(event, delivery);
        },
        onDeadLetter: async () => {
          sinkCalls += 1;
          throw new Error('dead-letter sink down');
        },
      });

      await bus.publish(poison);
      await bus.publish(next);
      await waitFor(() => recorder.has(next.id), 'the event after the poison one');

      assert.equal(sinkCalls, 1);
      assert.deepEqual(recorder.ids(), [next.id]);
    });

    it('keeps publish order for one subscription', async () => {
      const bus = await open();
      const type = `${uniqueToken('order')}.created`;
      const recorder = new Recorder();
      await bus.subscribe({ group: uniqueGroup('order'), subjects: [type], handler: recorder.handler });

      const events = Array.from({ length: 20 }, (_, n) => sampleEvent(type, { n }));
      for (const event of events) await bus.publish(event);
      await waitFor(() => recorder.received.length >= events.length, 'all 20 events');

      assert.deepEqual(
        recorder.ids(),
        events.map((event) => event.id),
      );
    });

    it(
      options.deduplicatesById
        ? 'delivers an event re-published with the same id only once'
        : 'delivers an event re-published with the same id at least once (consumers de-duplicate)',
      async () => {
        const bus = await open();
        const type = `${uniqueToken('dedupe')}.created`;
        const recorder = new Recorder();
        await bus.subscribe({ group: uniqueGroup('dedupe'), subjects: [type], handler: recorder.handler });

        const event = sampleEvent(type);
        await bus.publish(event);
        await bus.publish(structuredClone(event));
        const fence = sampleEvent(type);
        await bus.publish(fence);
        await waitFor(() => recorder.has(fence.id), 'the fence event');

        if (options.deduplicatesById) assert.equal(recorder.count(event.id), 1);
        else assert.ok(recorder.count(event.id) >= 1);
      },
    );

    it("keeps a group's position when its subscription closes, for the next subscription", async () => {
      const bus = await open();
      const type = `${uniqueToken('resume')}.created`;
      const group = uniqueGroup('resume');
      const first = new Recorder();
      const subscription = await bus.subscribe({ group, subjects: [type], handler: first.handler });
      const handledBefore = sampleEvent(type);
      await bus.publish(handledBefore);
      await waitFor(() => first.has(handledBefore.id), 'the first subscription to handle its event');
      await subscription.close();

      const whileAway = sampleEvent(type);
      await bus.publish(whileAway);
      const second = new Recorder();
      await bus.subscribe({ group, subjects: [type], handler: second.handler });
      await waitFor(() => second.has(whileAway.id), 'the event published while the group had no subscriber');

      assert.deepEqual(first.ids(), [handledBefore.id]);
      assert.deepEqual(second.ids(), [whileAway.id]);
    });

    for (const closer of ['subscription', 'bus'] as const) {
      it(`${closer}.close() waits for the handler in progress`, async () => {
        const bus = await open();
        const type = `${uniqueToken('close')}.created`;
        let started = false;
        let finished = false;
        const subscription: Subscription = await bus.subscribe({
          group: uniqueGroup('close'),
          subjects: [type],
          handler: async () => {
            started = true;
            await delay(300);
            finished = true;
          },
        });

        await bus.publish(sampleEvent(type));
        await waitFor(() => started, 'the handler to start');
        await (closer === 'bus' ? bus.close() : subscription.close());

        assert.equal(finished, true);
      });
    }

    it('rejects event types and subject patterns NATS would refuse', async () => {
      const bus = await open();
      const handler = async (): Promise<void> => {};
      await assert.rejects(bus.publish(sampleEvent('chat.*.created')), /Invalid event type/);
      await assert.rejects(bus.publish(sampleEvent('chat..created')), /Invalid event type/);
      await assert.rejects(
        bus.subscribe({ group: uniqueGroup('bad'), subjects: ['chat.>.created'], handler }),
        /Invalid subject pattern/,
      );
      await assert.rejects(bus.subscribe({ group: uniqueGroup('bad'), subjects: [], handler }), /subject/);
    });

    it('answers ping', async () => {
      const bus = await open();
      await bus.ping();
    });

    runVolatileEventsContract(open);
  });
}
