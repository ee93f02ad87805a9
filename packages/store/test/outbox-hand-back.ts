import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type Bus, MemoryBus } from '@parley/bus';
import { createEvent, createLogger, type EventEnvelope } from '@parley/kernel';
import { DirectPublisher } from '../src/direct-publisher.ts';
import { Outbox } from '../src/outbox.ts';
import { OutboxRelay } from '../src/outbox-relay.ts';
import type { TestDatabase } from '../src/testing/test-database.ts';
import {
  FlakyBus,
  persistentView,
  sleep,
  startOutboxPublishing,
  stopAfterEach,
  stored,
  waitFor,
} from './fixture/helpers.ts';
import { deadLetters, outbox, processedEvents } from './fixture/schema.ts';

const logger = createLogger({ level: 'silent' });
const tables = { outbox, processedEvents, deadLetters };

const kinds: { name: string; wrap: (bus: MemoryBus) => Bus }[] = [
  { name: 'the in-process bus', wrap: (bus) => bus },
  { name: 'a bus that persists events', wrap: persistentView },
];

/**
 * After a failed publish the direct path hands events to the relay, which publishes in outbox order; new
 * events must follow them there until the relay has published them all, or they would overtake.
 */
export function runHandBackCases(handle: () => TestDatabase): void {
  const stopLater = stopAfterEach();

  /** The `name`s of the events of `type` as a group on `bus` receives them. */
  async function receivedNames(bus: Bus, group: string, type: string): Promise<string[]> {
    const names: string[] = [];
    await bus.subscribe({
      group,
      subjects: [type],
      handler: async (event) => void names.push((event.data as { name: string }).name),
    });
    return names;
  }

  it('hands every event to the relay after a failure until it has published those handed back', async () => {
    const { database } = handle();
    const inner = new MemoryBus({ logger });
    stopLater(() => inner.close());
    const bus = new FlakyBus(inner);
    const type = 'fixture.handback.ordered';
    const order = await receivedNames(inner, 'handback-order', type);
    // Backoff after failures: 2 s, then 4 s, then 8 s; wakes cut a sleep short.
    const { box, publishing, relayWakes } = startOutboxPublishing(database, bus, logger, { pollMs: 1000 });
    stopLater(() => publishing.stop());
    const commit = (name: string) => box.transaction((tx) => box.add(tx, createEvent(type, { name })));

    bus.down = true;
    await commit('A'); // the direct publish fails: handed back; the relay fails too and backs off
    await sleep(100);
    await commit('B'); // follows A to the relay, which tries again at once and backs off longer
    await sleep(5300); // longer than the outage once took to end direct publishing
    bus.down = false;
    await commit('C'); // the relay has not published A and B yet: C must go after them
    await sleep(200);
    publishing.wakeRelay();
    await waitFor(() => order.length === 3, 15_000);
    assert.deepEqual(order, ['A', 'B', 'C']);

    // Caught up: direct publishing has resumed, with no relay round.
    const wakesBefore = relayWakes();
    await commit('D');
    await waitFor(() => order.length === 4);
    assert.deepEqual(order, ['A', 'B', 'C', 'D']);
    assert.equal(relayWakes(), wakesBefore, 'D went out directly');
    await publishing.stop();
    await inner.close();
  });

  for (const kind of kinds) {
    it(`resumes direct publishing once the relay has published what was handed back (${kind.name})`, async () => {
      const { database } = handle();
      const inner = new MemoryBus({ logger });
      stopLater(() => inner.close());
      const bus = new FlakyBus(kind.wrap(inner));
      const type = 'fixture.handback.resume';
      const order = await receivedNames(inner, `handback-resume-${kinds.indexOf(kind)}`, type);
      const { box, publishing, relayWakes } = startOutboxPublishing(database, bus, logger, { pollMs: 50 });
      stopLater(() => publishing.stop());
      const events = new Map<string, EventEnvelope>();
      const commit = async (name: string) => {
        const event = createEvent(type, { name });
        events.set(name, event);
        await box.transaction((tx) => box.add(tx, event));
      };

      bus.down = true;
      await commit('A');
      await sleep(20);
      bus.down = false;
      await commit('B'); // the relay may not have published A yet: B follows it
      await waitFor(() => order.length === 2);
      await waitFor(
        async () =>
          (await stored(
            database,
            ['A', 'B'].map((n) => events.get(n)!.id),
          )) === 0,
      );
      const wakesBefore = relayWakes();
      await commit('C');
      await waitFor(() => order.length === 3);
      assert.deepEqual(order, ['A', 'B', 'C']);
      assert.equal(relayWakes(), wakesBefore, 'C went out directly');
      await publishing.stop();
      await inner.close();
    });
  }

  it('resumes direct publishing when the rows handed back were published by another process', async () => {
    const { database } = handle();
    const bus = new MemoryBus({ logger });
    stopLater(() => bus.close());
    const type = 'fixture.handback.elsewhere';
    const order = await receivedNames(bus, 'handback-elsewhere', type);
    const flaky = new FlakyBus(bus);
    const box = new Outbox(database, tables, logger);
    // This process's relay, never started: its rounds are run by hand below.
    const own = new OutboxRelay({ database, tables, bus: flaky, logger });
    const direct = new DirectPublisher({ database, tables, bus: flaky, logger, outbox: box, relay: own });
    box.publishOnCommit(direct);
    stopLater(() => own.stop());
    stopLater(() => direct.stop());
    let relayWakes = 0;
    box.onCommitted(() => relayWakes++);

    flaky.down = true;
    await box.transaction((tx) => box.add(tx, createEvent(type, { name: 'A' })));
    await waitFor(() => relayWakes === 1);
    flaky.down = false;
    // The relay of another process publishes A; this process's relay, caught up, never sees it.
    const other = new OutboxRelay({ database, tables, bus, logger });
    stopLater(() => other.stop());
    assert.equal(await other.drain(), 1);
    await waitFor(async () => {
      await own.drain();
      const before = relayWakes;
      await box.transaction((tx) => box.add(tx, createEvent(type, { name: `B${before}` })));
      await sleep(50);
      return relayWakes === before;
    });
    await waitFor(() => order.length >= 2);
    assert.equal(order[0], 'A');
    await direct.stop();
    await other.stop();
    await own.stop();
    await bus.close();
  });
}
