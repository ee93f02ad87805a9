import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createLogger, type EventEnvelope } from '@parley/kernel';
import { MemoryBus } from '../src/memory-bus.ts';
import { HoldingRecorder, Recorder, sampleEvent, uniqueGroup, uniqueToken } from '../src/testing/fixtures.ts';
import { runBusContract, waitFor } from '../src/testing/index.ts';

const logger = createLogger({ level: 'silent' });

/**
 * Publishes an event for `group`, lets its first attempt fail with the retry a minute away, and closes
 * the subscription: the event is parked for the group's next subscription.
 */
async function parkAfterFailedAttempt(
  bus: MemoryBus,
  group: string,
  type: string,
  options: { maxDeliver?: number } = {},
): Promise<EventEnvelope> {
  let failures = 0;
  const failing = await bus.subscribe({
    group,
    subjects: [type],
    ...options,
    backoffMs: () => 60_000,
    handler: async () => {
      failures += 1;
      throw new Error('not yet');
    },
  });
  const event = sampleEvent(type);
  await bus.publish(event);
  await waitFor(() => failures === 1, 'the first attempt to fail');
  await failing.close();
  return event;
}

runBusContract('MemoryBus', async () => new MemoryBus({ logger }), {
  deduplicatesById: false,
  peer: async (bus) => bus,
});

describe('MemoryBus', () => {
  it('returns from publish before any handler runs, and never waits for one', async () => {
    const bus = new MemoryBus({ logger });
    const type = `${uniqueToken('async')}.created`;
    const busy = new HoldingRecorder();
    await bus.subscribe({ group: uniqueGroup('async'), subjects: [type], handler: busy.handler });

    await bus.publish(sampleEvent(type));
    assert.equal(busy.received.length, 0, 'the handler must not run inside publish');
    await waitFor(() => busy.received.length === 1, 'the handler to start');
    await bus.publish(sampleEvent(type));

    busy.release();
    await waitFor(() => busy.received.length === 2, 'the second event');
    await bus.close();
  });

  it('runs one handler at a time even when a handler publishes to its own group', async () => {
    const bus = new MemoryBus({ logger });
    const type = `${uniqueToken('reentrant')}.created`;
    const second = sampleEvent(type);
    let running = 0;
    let most = 0;
    const handled: string[] = [];
    await bus.subscribe({
      group: uniqueGroup('reentrant'),
      subjects: [type],
      handler: async (event) => {
        running += 1;
        most = Math.max(most, running);
        if (event.id !== second.id) await bus.publish(second);
        await delay(20);
        handled.push(event.id);
        running -= 1;
      },
    });
    const first = sampleEvent(type);
    await bus.publish(first);
    await waitFor(() => handled.length === 2, 'both events');

    assert.equal(most, 1, 'never two handlers at once');
    assert.deepEqual(handled, [first.id, second.id]);
    await bus.close();
  });

  it('keeps instances apart: each is its own process', async () => {
    const publisher = new MemoryBus({ logger });
    const other = new MemoryBus({ logger });
    const type = `${uniqueToken('apart')}.created`;
    const group = uniqueGroup('apart');
    const seenByOther = new Recorder();
    const seenByPublisher = new Recorder();
    await other.subscribe({ group, subjects: [type], handler: seenByOther.handler });
    await publisher.subscribe({ group, subjects: [type], handler: seenByPublisher.handler });

    const event = sampleEvent(type);
    await publisher.publish(event);
    await waitFor(() => seenByPublisher.has(event.id), 'the publishing instance to handle it');
    assert.equal(seenByOther.received.length, 0);
    await Promise.all([publisher.close(), other.close()]);
  });

  it('hands a retry waiting for its backoff to the next subscription when the last one closes', async () => {
    const bus = new MemoryBus({ logger });
    const type = `${uniqueToken('parked')}.created`;
    const group = uniqueGroup('parked');
    await parkAfterFailedAttempt(bus, group, type);

    const laterAttempts: number[] = [];
    await bus.subscribe({
      group,
      subjects: [type],
      handler: async (_event, { attempt }) => void laterAttempts.push(attempt),
    });
    await waitFor(() => laterAttempts.length === 1, 'the parked retry, without its 60 s backoff');
    assert.deepEqual(laterAttempts, [2]);
    await bus.close();
  });

  it('holds an event parked for a group with no subscription until its next subscription handles it', async () => {
    const bus = new MemoryBus({ logger });
    const type = `${uniqueToken('held')}.created`;
    const group = uniqueGroup('held');
    const settled: string[] = [];
    bus.volatileEvents.onSettled((eventId) => void settled.push(eventId));
    const event = await parkAfterFailedAttempt(bus, group, type);
    assert.equal(bus.volatileEvents.holds(event.id), true, 'parked for the group, not given up on');

    const later = new Recorder();
    await bus.subscribe({ group, subjects: [type], handler: later.handler });
    await waitFor(() => settled.length === 1, 'the settlement once handled');
    assert.deepEqual(settled, [event.id]);
    assert.deepEqual(later.ids(), [event.id]);
    assert.equal(bus.volatileEvents.holds(event.id), false);
    await bus.close();
  });

  it('cancels pending redelivery timers on close', async () => {
    const bus = new MemoryBus({ logger });
    const type = `${uniqueToken('timers')}.created`;
    const timersBefore = countTimers();
    let attempts = 0;
    await bus.subscribe({
      group: uniqueGroup('timers'),
      subjects: [type],
      backoffMs: () => 60_000,
      handler: async () => {
        attempts += 1;
        throw new Error('fails');
      },
    });
    await bus.publish(sampleEvent(type));
    await waitFor(() => attempts === 1 && countTimers() > timersBefore, 'the redelivery timer');

    await bus.close();
    assert.equal(countTimers(), timersBefore);
  });

  it('replays to a new group only the latest historyLimit events, none older than retentionMs', async () => {
    const bus = new MemoryBus({ logger, historyLimit: 2, retentionMs: 200 });
    const type = `${uniqueToken('history')}.created`;
    const events = Array.from({ length: 4 }, (_, n) => sampleEvent(type, { n }));
    for (const event of events.slice(0, 3)) await bus.publish(event);
    const countCut = new Recorder();
    await bus.subscribe({ group: uniqueGroup('count'), subjects: [type], handler: countCut.handler });
    await waitFor(() => countCut.received.length === 2, 'the two latest events');

    await delay(300);
    await bus.publish(events[3]!);
    const ageCut = new Recorder();
    await bus.subscribe({ group: uniqueGroup('age'), subjects: [type], handler: ageCut.handler });
    await waitFor(() => ageCut.has(events[3]!.id), 'the recent event');
    await delay(50);

    assert.deepEqual(countCut.ids(), [events[1]!.id, events[2]!.id, events[3]!.id]);
    assert.deepEqual(ageCut.ids(), [events[3]!.id], 'older than retentionMs: not replayed');
    assert.equal(bus.retentionMs, 200);
    await bus.close();
  });

  it('replays to a group subscribing under holdForGroups every event of the hold, past historyLimit and retentionMs', async () => {
    const bus = new MemoryBus({ logger, historyLimit: 1, retentionMs: 50 });
    const type = `${uniqueToken('hold')}.created`;
    const events = Array.from({ length: 3 }, (_, n) => sampleEvent(type, { n }));
    const releaseHold = bus.volatileEvents.holdForGroups();
    for (const event of events) await bus.publish(event);
    await delay(100);
    const late = new Recorder();
    await bus.subscribe({ group: uniqueGroup('held'), subjects: [type], handler: late.handler });
    releaseHold();
    await waitFor(() => late.received.length === 3, 'every event of the hold');
    assert.deepEqual(
      late.ids(),
      events.map((event) => event.id),
    );

    const next = new Recorder();
    await bus.subscribe({ group: uniqueGroup('next'), subjects: [type], handler: next.handler });
    await delay(50);
    assert.deepEqual(next.ids(), [], 'released: the limits apply again');
    await bus.close();
  });

  it('settles an event replayed to a late group only once that group has it too, if it was still held', async () => {
    const bus = new MemoryBus({ logger });
    const type = `${uniqueToken('late')}.created`;
    const settled: string[] = [];
    bus.volatileEvents.onSettled((eventId) => settled.push(eventId));
    const early = new HoldingRecorder();
    await bus.subscribe({ group: uniqueGroup('early'), subjects: [type], handler: early.handler });
    const held = sampleEvent(type);
    await bus.publish(held);
    await waitFor(() => early.received.length === 1, 'the early group to start on the event');
    const late = new HoldingRecorder();
    await bus.subscribe({ group: uniqueGroup('late'), subjects: [type], handler: late.handler });
    await waitFor(() => late.received.length === 1, 'the late group to be handed the event');
    early.release();
    await delay(20);
    assert.deepEqual(settled, [], 'the late group still works on it: its outbox row must stay');
    assert.ok(bus.volatileEvents.holds(held.id));
    late.release();
    await waitFor(() => settled.length === 1, 'the event to settle');
    assert.deepEqual(settled, [held.id]);

    // Settled before a third group exists: that group's copy is no publisher's concern.
    const third: string[] = [];
    await bus.subscribe({
      group: uniqueGroup('third'),
      subjects: [type],
      handler: async (event) => {
        third.push(event.id);
      },
    });
    await waitFor(() => third.length === 1, 'the third group to get the event');
    await delay(20);
    assert.deepEqual(settled, [held.id]);
    assert.equal(bus.volatileEvents.holds(held.id), false);
    await bus.close();
  });

  it('settles an event a subscription with a lower maxDeliver dead-letters unhandled', async () => {
    const bus = new MemoryBus({ logger });
    const type = `${uniqueToken('lowered')}.created`;
    const group = uniqueGroup('lowered');
    const settled: string[] = [];
    bus.volatileEvents.onSettled((eventId) => settled.push(eventId));
    // A generous maxDeliver first; the failed attempt's retry is parked for the group's next subscription.
    const event = await parkAfterFailedAttempt(bus, group, type, { maxDeliver: 5 });
    const dead: string[] = [];
    await bus.subscribe({
      group,
      subjects: [type],
      maxDeliver: 1,
      handler: async () => {
        throw new Error('must not run past maxDeliver');
      },
      onDeadLetter: async (dropped) => {
        dead.push(dropped.id);
      },
    });
    await waitFor(() => dead.length === 1, 'the event to be dead-lettered');
    await waitFor(() => settled.length === 1, 'the dead-lettered event to settle, so its outbox row goes');
    assert.deepEqual(settled, [event.id]);
    assert.equal(bus.volatileEvents.holds(event.id), false);
    await bus.close();
  });

  it('refuses to publish, subscribe or answer ping once closed', async () => {
    const bus = new MemoryBus({ logger });
    await bus.close();
    await assert.rejects(bus.publish(sampleEvent('closed.created')), /closed/);
    await assert.rejects(
      bus.subscribe({ group: uniqueGroup('closed'), subjects: ['closed.created'], handler: async () => {} }),
      /closed/,
    );
    await assert.rejects(bus.ping(), /closed/);
  });
});

function countTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}
