import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryBus } from '@parley/bus';
import { createEvent, createLogger } from '@parley/kernel';
import { eq } from 'drizzle-orm';
import { DeadLetters } from '../src/dead-letters.ts';
import { DirectPublisher } from '../src/direct-publisher.ts';
import { subscribeIdempotent } from '../src/idempotent-consumer.ts';
import { Outbox } from '../src/outbox.ts';
import { OutboxRelay } from '../src/outbox-relay.ts';
import type { TestDatabase } from '../src/testing/test-database.ts';
import { sleep, startOutboxPublishing, stopAfterEach, stored, waitFor } from './fixture/helpers.ts';
import { deadLetters, effects, outbox, processedEvents } from './fixture/schema.ts';

const logger = createLogger({ level: 'silent' });
const tables = { outbox, processedEvents, deadLetters };

/** A handler that waits until released, to hold an event in the in-process bus for as long as a test needs. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * The outbox over the in-process bus, which holds published events only in memory: a row is the event's
 * durable copy until every group has handled it, whichever path published it, and survives a stop.
 */
export function runOutboxSettlementCases(handle: () => TestDatabase): void {
  const stopLater = stopAfterEach();

  it('keeps a directly published row while a group is still handling its event, then deletes it', async () => {
    const { database } = handle();
    const bus = new MemoryBus({ logger });
    stopLater(() => bus.close());
    const type = 'fixture.settle.direct';
    let quick = 0;
    let slowStarted = false;
    const slow = gate();
    await bus.subscribe({ group: 'settle-quick', subjects: [type], handler: async () => void quick++ });
    await bus.subscribe({
      group: 'settle-slow',
      subjects: [type],
      handler: async () => {
        slowStarted = true;
        await slow.opened;
      },
    });
    const box = new Outbox(database, tables, logger);
    const relay = new OutboxRelay({ database, tables, bus, logger });
    const direct = new DirectPublisher({ database, tables, bus, logger, outbox: box, relay });
    box.publishOnCommit(direct);
    stopLater(() => direct.stop());
    const event = createEvent(type, { n: 1 });
    await box.transaction((tx) => box.add(tx, event));
    await waitFor(() => quick === 1 && slowStarted);
    await sleep(200); // well past the 50 ms in which published rows are deleted
    assert.equal(
      await stored(database, [event.id]),
      1,
      'the only durable copy while a group has not handled it',
    );

    slow.open();
    await waitFor(async () => (await stored(database, [event.id])) === 0);
    await direct.stop();
    await bus.close();
  });

  it('leases the rows the relay publishes, and deletes each once every group has handled its event', async () => {
    const { database } = handle();
    const bus = new MemoryBus({ logger });
    stopLater(() => bus.close());
    const type = 'fixture.settle.relayed';
    let started = 0;
    const slow = gate();
    await bus.subscribe({
      group: 'settle-relayed',
      subjects: [type],
      handler: async () => {
        started++;
        await slow.opened;
      },
    });
    const box = new Outbox(database, tables, logger);
    const relay = new OutboxRelay({ database, tables, bus, logger, pollMs: 20 });
    box.onCommitted(() => relay.wake());
    relay.start();
    stopLater(() => relay.stop());
    const events = [createEvent(type, { n: 1 }), createEvent(type, { n: 2 })];
    await box.add(database.db, ...events);
    box.committed();
    await waitFor(() => started === 1);
    await sleep(200);
    const ids = events.map((event) => event.id);
    assert.equal(await stored(database, ids), 2, 'rows stay while the bus holds their events');
    const [row] = await database.db.select().from(outbox).where(eq(outbox.eventId, events[1]!.id));
    assert.ok(row?.leaseUntil && row.leaseUntil.getTime() > Date.now(), 'leased, so no relay takes it');
    assert.equal(started, 1, 'published once: the relay does not take a leased row');

    slow.open();
    await waitFor(async () => (await stored(database, ids)) === 0);
    await relay.stop();
    await bus.close();
  });

  it('leaves an event that is still retrying to the bus when its lease lapses, and deletes it once handled', async () => {
    const { database } = handle();
    const bus = new MemoryBus({ logger });
    stopLater(() => bus.close());
    const type = 'fixture.settle.retrying';
    const attempts: number[] = [];
    await bus.subscribe({
      group: 'settle-retrying',
      subjects: [type],
      maxDeliver: 10,
      backoffMs: () => 250,
      handler: async (_event, { attempt }) => {
        attempts.push(attempt);
        if (attempt < 5) throw new Error('not yet');
      },
    });
    // Four failures a quarter of a second apart: the 300 ms lease lapses three times meanwhile.
    const { box, publishing } = startOutboxPublishing(database, bus, logger, { leaseMs: 300 });
    stopLater(() => publishing.stop());
    const event = createEvent(type, { n: 1 });
    await box.transaction((tx) => box.add(tx, event));
    await waitFor(() => attempts.length >= 3);
    assert.equal(await stored(database, [event.id]), 1, 'kept while the handler keeps failing');
    await waitFor(() => attempts.includes(5));
    await waitFor(async () => (await stored(database, [event.id])) === 0);
    await sleep(400);
    assert.deepEqual(attempts, [1, 2, 3, 4, 5], 'no copy published again beside the one retrying');
    await publishing.stop();
    await bus.close();
  });

  it('keeps the row of an event still waiting for a retry at a clean stop, and the next start publishes it', async () => {
    const { database } = handle();
    const type = 'fixture.settle.stopped';
    const group = 'settle-stopped';
    const leaseMs = 400;
    const start = async (handleEvent: () => Promise<void>) => {
      const bus = new MemoryBus({ logger });
      stopLater(() => bus.close());
      await subscribeIdempotent({
        bus,
        database,
        tables,
        deadLetters: new DeadLetters(database, tables.deadLetters),
        group,
        subjects: [type],
        logger,
        backoffMs: () => 60_000,
        handle: async (tx, event) => {
          await handleEvent();
          await tx.insert(effects).values({ eventId: event.id, consumer: group });
        },
      });
      const { box, publishing } = startOutboxPublishing(database, bus, logger, { leaseMs });
      stopLater(() => publishing.stop());
      return {
        box,
        stop: async () => {
          await publishing.stop();
          await bus.close();
        },
      };
    };

    let failures = 0;
    const first = await start(async () => {
      failures++;
      throw new Error('transient');
    });
    const direct = createEvent(type, { path: 'direct' });
    await first.box.transaction((tx) => first.box.add(tx, direct));
    const relayed = createEvent(type, { path: 'relay' });
    await first.box.add(database.db, relayed);
    first.box.committed();
    await waitFor(() => failures === 2, 5000);
    // SIGTERM: every component stops in order; the bus drops the two retries it was waiting to make.
    await first.stop();
    const ids = [direct.id, relayed.id];
    assert.equal(await stored(database, ids), 2, 'both rows outlive the bus that held their events');

    const second = await start(async () => {});
    const handled = async () =>
      (await database.db.select().from(effects).where(eq(effects.consumer, group))).map((row) => row.eventId);
    await waitFor(async () => (await handled()).length === 2, leaseMs + 5000);
    assert.deepEqual((await handled()).sort(), [...ids].sort());
    await waitFor(async () => (await stored(database, ids)) === 0);
    await second.stop();
  });
}
