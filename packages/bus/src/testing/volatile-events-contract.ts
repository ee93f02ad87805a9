import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import type { Bus, VolatileEvents } from '../bus.ts';
import { HoldingRecorder, Recorder, sampleEvent, uniqueGroup, uniqueToken } from './fixtures.ts';
import { settle, waitFor } from './wait.ts';

/**
 * What a bus that holds events in memory (`volatileEvents`) promises the outbox, which deletes an event's
 * row on the strength of it: settled means no group will ever need that copy again. Part of the Bus
 * contract; a bus that persists what it publishes (no `volatileEvents`) skips these.
 */
export function runVolatileEventsContract(open: () => Promise<Bus>): void {
  const openVolatile = async (t: TestContext): Promise<{ bus: Bus; held: VolatileEvents } | undefined> => {
    const bus = await open();
    if (!bus.volatileEvents) {
      // Closed here: node's test runner does not run afterEach hooks for a test that skips itself.
      await bus.close();
      t.skip('the bus persists what it publishes: nothing to settle');
      return undefined;
    }
    return { bus, held: bus.volatileEvents };
  };

  const settlements = (held: VolatileEvents): string[] => {
    const settled: string[] = [];
    held.onSettled((eventId) => void settled.push(eventId));
    return settled;
  };

  it('settles an event once every group subscribed at publish has acknowledged it, not before', async (t) => {
    const opened = await openVolatile(t);
    if (!opened) return;
    const { bus, held } = opened;
    const type = `${uniqueToken('settle')}.created`;
    const quick = new Recorder();
    const slow = new HoldingRecorder();
    await bus.subscribe({ group: uniqueGroup('quick'), subjects: [type], handler: quick.handler });
    await bus.subscribe({ group: uniqueGroup('slow'), subjects: [type], handler: slow.handler });
    const settled = settlements(held);
    const event = sampleEvent(type);
    await bus.publish(event);
    assert.equal(held.holds(event.id), true, 'held from publish on');

    await waitFor(
      () => quick.received.length === 1 && slow.received.length === 1,
      'one group done, the other handling it',
    );
    await settle(50);
    assert.equal(held.holds(event.id), true, 'still held while one group has not acknowledged it');
    assert.deepEqual(settled, []);

    slow.release();
    await waitFor(() => settled.length > 0, 'the settlement');
    assert.deepEqual(settled, [event.id]);
    assert.equal(held.holds(event.id), false);
  });

  it('settles an event no group wants within publish', async (t) => {
    const opened = await openVolatile(t);
    if (!opened) return;
    const { bus, held } = opened;
    const settled = settlements(held);
    const event = sampleEvent(`${uniqueToken('unwanted')}.created`);
    await bus.publish(event);
    assert.deepEqual(settled, [event.id]);
    assert.equal(held.holds(event.id), false);
  });

  it('keeps an event published under holdForGroups for a group subscribing before the release', async (t) => {
    const opened = await openVolatile(t);
    if (!opened) return;
    const { bus, held } = opened;
    const type = `${uniqueToken('awaited')}.created`;
    const releaseHold = held.holdForGroups();
    const settled = settlements(held);
    const event = sampleEvent(type);
    await bus.publish(event);
    assert.deepEqual(settled, [], 'no group yet, but one may be about to subscribe');
    assert.equal(held.holds(event.id), true);

    const late = new HoldingRecorder();
    await bus.subscribe({ group: uniqueGroup('awaited'), subjects: [type], handler: late.handler });
    await waitFor(() => late.received.length === 1, 'the late group to be handed the event');
    releaseHold();
    await settle(50);
    assert.deepEqual(settled, [], 'the late group still works on it: its copy counts');

    late.release();
    await waitFor(() => settled.length > 0, 'the settlement');
    assert.deepEqual(settled, [event.id]);
    assert.deepEqual(late.ids(), [event.id]);
  });

  it('settles at the release of holdForGroups an event no group took meanwhile', async (t) => {
    const opened = await openVolatile(t);
    if (!opened) return;
    const { bus, held } = opened;
    const type = `${uniqueToken('untaken')}.created`;
    const releaseHold = held.holdForGroups();
    const settled = settlements(held);
    const awaited = sampleEvent(type);
    await bus.publish(awaited);
    assert.deepEqual(settled, []);

    releaseHold();
    assert.deepEqual(settled, [awaited.id]);
    assert.equal(held.holds(awaited.id), false);
    const later = sampleEvent(type);
    await bus.publish(later);
    assert.deepEqual(settled, [awaited.id, later.id], 'once released, the bus settles as before');
  });

  it('keeps an event unsettled while it waits for a retry, and settles it once dead-lettered', async (t) => {
    const opened = await openVolatile(t);
    if (!opened) return;
    const { bus, held } = opened;
    const type = `${uniqueToken('retrying')}.created`;
    const attempts: number[] = [];
    let deadLettered = false;
    let settledAfterDeadLetter: boolean | undefined;
    let retry: () => void = () => {};
    const retryAllowed = new Promise<void>((resolve) => {
      retry = resolve;
    });
    await bus.subscribe({
      group: uniqueGroup('retrying'),
      subjects: [type],
      maxDeliver: 2,
      backoffMs: () => 20,
      handler: async (_event, { attempt }) => {
        attempts.push(attempt);
        if (attempt === 2) await retryAllowed;
        throw new Error('fails');
      },
      onDeadLetter: async () => {
        deadLettered = true;
      },
    });
    const event = sampleEvent(type);
    held.onSettled((eventId) => {
      if (eventId === event.id) settledAfterDeadLetter = deadLettered;
    });
    await bus.publish(event);
    await waitFor(() => attempts.length === 2, 'the redelivery');
    assert.equal(held.holds(event.id), true, 'a failed event waiting to be retried is still held');

    retry();
    await waitFor(() => settledAfterDeadLetter !== undefined, 'the settlement');
    assert.equal(settledAfterDeadLetter, true, 'settled only once its dead letter was written');
    assert.equal(held.holds(event.id), false);
  });

  it('never settles what a group has not handled when the bus closes', async (t) => {
    const opened = await openVolatile(t);
    if (!opened) return;
    const { bus, held } = opened;
    const type = `${uniqueToken('dropped')}.created`;
    let attempts = 0;
    await bus.subscribe({
      group: uniqueGroup('dropped'),
      subjects: [type],
      backoffMs: () => 60_000,
      handler: async () => {
        attempts += 1;
        throw new Error('not yet');
      },
    });
    const settled = settlements(held);
    const event = sampleEvent(type);
    await bus.publish(event);
    await waitFor(() => attempts === 1, 'the first attempt');
    await bus.close();
    assert.deepEqual(settled, [], 'its publisher must keep its copy');
  });

  it('settles an id published twice once both copies are handled', async (t) => {
    const opened = await openVolatile(t);
    if (!opened) return;
    const { bus, held } = opened;
    const type = `${uniqueToken('twice')}.created`;
    const releases: (() => void)[] = [];
    await bus.subscribe({
      group: uniqueGroup('twice'),
      subjects: [type],
      handler: () => new Promise<void>((resolve) => void releases.push(resolve)),
    });
    const settled = settlements(held);
    const event = sampleEvent(type);
    await bus.publish(event);
    await bus.publish(structuredClone(event));
    await waitFor(() => releases.length === 1, 'the first copy');
    releases[0]?.();
    await waitFor(() => releases.length === 2, 'the second copy');
    assert.deepEqual(settled, [], 'one copy is still being handled');
    assert.equal(held.holds(event.id), true);
    releases[1]?.();
    await waitFor(() => settled.length > 0, 'the settlement');
    assert.deepEqual(settled, [event.id]);
  });
}
