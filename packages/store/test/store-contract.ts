import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryBus } from '@parley/bus';
import { createEvent, createLogger, type EventEnvelope } from '@parley/kernel';
import { count, eq, inArray, sql } from 'drizzle-orm';
import { queryRows, withSerializationRetry } from '../src/database.ts';
import { DeadLetters } from '../src/dead-letters.ts';
import { DirectPublisher } from '../src/direct-publisher.ts';
import { pruneProcessedEvents, subscribeIdempotent } from '../src/idempotent-consumer.ts';
import { migrate } from '../src/migrate.ts';
import { Outbox } from '../src/outbox.ts';
import { OutboxRelay } from '../src/outbox-relay.ts';
import { queryPreparedDocument } from '../src/prepared-document.ts';
import type { TestDatabase } from '../src/testing/test-database.ts';
import { persistentView, sleep, waitFor } from './fixture/helpers.ts';
import { deadLetters, effects, notes, outbox, processedEvents } from './fixture/schema.ts';
import { runHandBackCases } from './outbox-hand-back.ts';
import { runOutboxSettlementCases } from './outbox-settlement.ts';

const migrationsFolder = fileURLToPath(new URL('./fixture/migrations', import.meta.url));
const logger = createLogger({ level: 'silent' });
const tables = { outbox, processedEvents, deadLetters };

export { waitFor };

/** One suite over every database driver: migrations, outbox, relay and the idempotent consumer. */
export function runStoreContract(name: string, open: () => Promise<TestDatabase>): void {
  describe(`store contract: ${name}`, () => {
    let handle: TestDatabase;

    before(async () => {
      handle = await open();
      await migrate(handle.database, { schema: 'store_fixture', migrationsFolder });
    });
    after(() => handle.dispose());

    it('runs a prepared statement over a JSON document, again and again, whatever the text holds', async () => {
      const text = `select x.n, x.s from jsonb_to_recordset($1::jsonb -> 'rows') as x(n integer, s text)
        order by x.n`;
      for (const s of ["it's", "''\\' \\u0041 $1 \n😀", 'plain']) {
        const rows = await queryPreparedDocument<{ n: number; s: string }>(
          handle.database.kind,
          handle.database.db,
          'store_contract_document',
          text,
          {
            rows: [
              { n: 2, s },
              { n: 1, s: 'first' },
            ],
          },
        );
        assert.deepEqual(rows, [
          { n: 1, s: 'first' },
          { n: 2, s },
        ]);
      }
    });

    it('applies each migration once and records it', async () => {
      const again = await migrate(handle.database, { schema: 'store_fixture', migrationsFolder });
      assert.equal(again.applied, 0);
      const rows = await queryRows<{ n: number }>(
        handle.database.db,
        sql`select count(*)::int as n from store_fixture.__migrations`,
      );
      const files = (await readdir(migrationsFolder)).filter((name) => name.endsWith('.sql'));
      assert.equal(rows[0]?.n, files.length);
    });

    it('writes the event only when the business change commits', async () => {
      const box = new Outbox(handle.database, tables);
      const kept = createEvent('fixture.note.created', { id: 'n-kept' });
      await box.transaction(async (tx) => {
        await tx.insert(notes).values({ id: 'n-kept', body: 'kept' });
        await box.add(tx, kept);
      });
      const dropped = createEvent('fixture.note.created', { id: 'n-dropped' });
      await assert.rejects(
        box.transaction(async (tx) => {
          await box.add(tx, dropped);
          await tx.insert(notes).values({ id: 'n-kept', body: 'duplicate key: rolls back' });
        }),
      );
      const ids = (await handle.database.db.select({ id: outbox.eventId }).from(outbox)).map((row) => row.id);
      assert.ok(ids.includes(kept.id));
      assert.ok(!ids.includes(dropped.id));
    });

    it('relays committed events to the bus in order and removes them from the outbox', async () => {
      const bus = new MemoryBus();
      const received: string[] = [];
      await bus.subscribe({
        group: 'order-check',
        subjects: ['fixture.order.*'],
        handler: async (event) => {
          received.push(event.id);
        },
      });
      const box = new Outbox(handle.database, tables);
      const relay = new OutboxRelay({ database: handle.database, tables, bus, logger, pollMs: 20 });
      box.onCommitted(() => relay.wake());
      relay.start();
      const sent: EventEnvelope[] = [];
      for (let i = 0; i < 30; i++) {
        const event = createEvent('fixture.order.placed', { i });
        sent.push(event);
        await box.transaction((tx) => box.add(tx, event));
      }
      await waitFor(() => received.length === 30);
      await relay.stop();
      await bus.close();
      assert.deepEqual(
        received,
        sent.map((event) => event.id),
      );
      const [pending] = await handle.database.db
        .select({ n: count() })
        .from(outbox)
        .where(sql`published_at is null and type = 'fixture.order.placed'`);
      assert.equal(pending?.n, 0);
    });

    async function recorder(bus: MemoryBus, subject: string): Promise<string[]> {
      const received: string[] = [];
      await bus.subscribe({
        group: `${subject}-recorder`,
        subjects: [`${subject}.*`],
        handler: async (event) => {
          received.push(event.id);
        },
      });
      return received;
    }

    async function stored(ids: string[]): Promise<number> {
      const [row] = await handle.database.db
        .select({ n: count() })
        .from(outbox)
        .where(inArray(outbox.eventId, ids));
      return row?.n ?? 0;
    }

    it('publishes committed events directly, in order, with no relay, and then deletes them', async () => {
      const bus = new MemoryBus();
      const received = await recorder(bus, 'fixture.direct');
      const box = new Outbox(handle.database, tables, logger);
      // Never started: nothing is handed back to it.
      const relay = new OutboxRelay({ database: handle.database, tables, bus, logger });
      const direct = new DirectPublisher({
        database: handle.database,
        tables,
        bus,
        logger,
        outbox: box,
        relay,
      });
      box.publishOnCommit(direct);
      let relayWakes = 0;
      box.onCommitted(() => relayWakes++);
      const sent: string[] = [];
      for (let i = 0; i < 20; i++) {
        const events = [createEvent('fixture.direct.sent', { i }), createEvent('fixture.direct.sent', { i })];
        sent.push(...events.map((event) => event.id));
        await box.transaction((tx) => box.add(tx, ...events));
      }
      await waitFor(() => received.length === sent.length);
      assert.deepEqual(received, sent);
      assert.equal(relayWakes, 0, 'no relay round was asked for');
      await waitFor(async () => (await stored(sent)) === 0);
      await direct.stop();
      await bus.close();
    });

    it('keeps relays off rows their writer publishes, until the lease lapses (the writer died)', async () => {
      const bus = new MemoryBus();
      const received = await recorder(bus, 'fixture.orphan');
      const box = new Outbox(handle.database, tables, logger);
      // The process dies right after the commit: nothing publishes what it committed.
      box.publishOnCommit({ leaseMs: 600, publishCommitted: () => {} });
      const relay = new OutboxRelay({ database: handle.database, tables, bus, logger, pollMs: 20 });
      relay.start();
      const event = createEvent('fixture.orphan.left', { n: 1 });
      const committedAt = Date.now();
      await box.transaction((tx) => box.add(tx, event));
      await sleep(300);
      assert.deepEqual(received, [], 'still leased: the relay leaves it to its writer');
      await waitFor(() => received.length === 1);
      assert.ok(Date.now() - committedAt >= 550, 'published once the lease lapsed');
      assert.deepEqual(received, [event.id]);
      await relay.stop();
      assert.equal(await stored([event.id]), 0);
      await bus.close();
    });

    it('hands events it cannot publish straight back to the relay', async () => {
      const bus = new MemoryBus();
      const received = await recorder(bus, 'fixture.handback');
      const closedBus = new MemoryBus();
      await closedBus.close();
      const box = new Outbox(handle.database, tables, logger);
      // Polling alone would take a minute: only the hand-back's wake can bring the event out in time.
      const relay = new OutboxRelay({ database: handle.database, tables, bus, logger, pollMs: 60_000 });
      const direct = new DirectPublisher({
        database: handle.database,
        tables,
        bus: closedBus,
        logger,
        outbox: box,
        relay,
        leaseMs: 60_000,
      });
      box.publishOnCommit(direct);
      box.onCommitted(() => relay.wake());
      relay.start();
      const event = createEvent('fixture.handback.sent', { n: 1 });
      await box.transaction((tx) => box.add(tx, event));
      await waitFor(() => received.length === 1, 5000);
      assert.deepEqual(received, [event.id]);
      await direct.stop();
      await relay.stop();
      await bus.close();
    });

    it('does not sleep through a wake that arrives while a batch is being published', async () => {
      const bus = new MemoryBus();
      const received: string[] = [];
      await bus.subscribe({
        group: 'wake-check',
        subjects: ['fixture.wake.*'],
        handler: async (event) => {
          received.push(event.id);
        },
      });
      const box = new Outbox(handle.database, tables);
      let relay: OutboxRelay | undefined;
      const late = createEvent('fixture.wake.late', {});
      let injected = false;
      let lateInsert: Promise<void> = Promise.resolve();
      relay = new OutboxRelay({
        database: handle.database,
        tables,
        bus,
        logger,
        pollMs: 60_000,
        afterPublish: async () => {
          if (injected) return;
          injected = true;
          // Another request commits and wakes the relay while this batch is still being published. PGlite has
          // one connection, so there the insert queues behind this transaction and commits right after it.
          lateInsert = box.add(handle.database.db, late);
          if (handle.database.kind === 'postgres') await lateInsert;
          relay?.wake();
        },
      });
      box.onCommitted(() => relay?.wake());
      const first = createEvent('fixture.wake.first', {});
      await box.transaction((tx) => box.add(tx, first));
      relay.start();
      await waitFor(() => received.length === 2, 5_000);
      await lateInsert;
      await relay.stop();
      await bus.close();
      assert.deepEqual(received, [first.id, late.id]);
    });

    it('redelivers after a relay dies between publish and delete, and the consumer acts once', async () => {
      const inProcess = new MemoryBus();
      // Deleted in the transaction that publishes them, as over JetStream (the in-process bus's rows wait
      // for their events to settle instead: outbox-settlement.ts).
      const bus = persistentView(inProcess);
      let deliveries = 0;
      const group = 'crash-check';
      await subscribeIdempotent({
        bus,
        database: handle.database,
        tables,
        deadLetters: new DeadLetters(handle.database, tables.deadLetters),
        group,
        subjects: ['fixture.crash.*'],
        logger,
        handle: async (tx, event) => {
          await tx.insert(effects).values({ eventId: event.id, consumer: group });
        },
      });
      await bus.subscribe({
        group: 'crash-delivery-counter',
        subjects: ['fixture.crash.*'],
        handler: async () => {
          deliveries++;
        },
      });
      const box = new Outbox(handle.database, tables);
      const event = createEvent('fixture.crash.happened', { n: 1 });
      await box.transaction((tx) => box.add(tx, event));

      const dying = new OutboxRelay({
        database: handle.database,
        tables,
        bus,
        logger,
        afterPublish: async () => {
          throw new Error('process killed before marking the batch sent');
        },
      });
      await assert.rejects(dying.drain(), /process killed/);
      await waitFor(() => deliveries === 1);

      const restarted = new OutboxRelay({ database: handle.database, tables, bus, logger });
      assert.equal(await restarted.drain(), 1, 'the unmarked event is published again');
      await waitFor(() => deliveries === 2);
      await waitFor(async () => {
        const handled = await handle.database.db
          .select({ n: count() })
          .from(processedEvents)
          .where(eq(processedEvents.eventId, event.id));
        return handled[0]?.n === 1;
      });
      await bus.close();
      const rows = await handle.database.db.select().from(effects).where(eq(effects.eventId, event.id));
      assert.equal(rows.length, 1, 'the side effect happened exactly once');
      assert.equal(await restarted.drain(), 0, 'nothing is left to publish');
    });

    it('rolls back the handler with its processed mark, then dead-letters a poison event', async () => {
      const bus = new MemoryBus();
      const group = 'poison-check';
      let attempts = 0;
      await subscribeIdempotent({
        bus,
        database: handle.database,
        tables,
        deadLetters: new DeadLetters(handle.database, tables.deadLetters),
        group,
        subjects: ['fixture.poison.*'],
        logger,
        maxDeliver: 3,
        backoffMs: () => 5,
        handle: async (tx, event) => {
          attempts++;
          await tx.insert(effects).values({ eventId: event.id, consumer: group });
          throw new Error('cannot handle this one');
        },
      });
      const event = createEvent('fixture.poison.pill', {});
      await bus.publish(event);
      await waitFor(async () => {
        const rows = await handle.database.db
          .select()
          .from(deadLetters)
          .where(eq(deadLetters.eventId, event.id));
        return rows.length === 1;
      });
      await bus.close();
      assert.equal(attempts, 3);
      const [letter] = await handle.database.db
        .select()
        .from(deadLetters)
        .where(eq(deadLetters.eventId, event.id));
      assert.equal(letter?.consumer, group);
      assert.equal(letter?.attempts, 3);
      assert.match(letter?.error ?? '', /cannot handle/);
      const leftovers = await handle.database.db.select().from(effects).where(eq(effects.eventId, event.id));
      assert.equal(leftovers.length, 0, 'failed attempts left no partial writes');
    });

    runOutboxSettlementCases(() => handle);
    runHandBackCases(() => handle);

    it('retries a transaction on serialization failure only', async () => {
      let calls = 0;
      const value = await withSerializationRetry(async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        return 'done';
      });
      assert.equal(value, 'done');
      assert.equal(calls, 3);
      let other = 0;
      await assert.rejects(
        withSerializationRetry(async () => {
          other++;
          throw Object.assign(new Error('duplicate key'), { code: '23505' });
        }),
      );
      assert.equal(other, 1);
    });

    const DAY = 24 * 3600 * 1000;
    const handledAt = (group: string, prefix: string, count: number, ageMs: number) =>
      Array.from({ length: count }, (_, n) => ({
        consumer: group,
        eventId: `${prefix}-${n}`,
        processedAt: new Date(Date.now() - ageMs),
      }));
    const handledIds = async (group: string): Promise<string[]> =>
      (
        await handle.database.db
          .select({ id: processedEvents.eventId })
          .from(processedEvents)
          .where(eq(processedEvents.consumer, group))
      )
        .map((row) => row.id)
        .sort();

    it("deletes one consumer's handled event ids older than a date, in batches, and no other rows", async () => {
      await handle.database.db
        .insert(processedEvents)
        .values([
          ...handledAt('prune-a', 'old', 5, 10 * DAY),
          ...handledAt('prune-a', 'new', 2, DAY),
          ...handledAt('prune-b', 'old', 2, 10 * DAY),
        ]);

      const deleted = await pruneProcessedEvents({
        database: handle.database,
        table: processedEvents,
        consumer: 'prune-a',
        olderThan: new Date(Date.now() - 5 * DAY),
        batchSize: 2,
      });

      assert.equal(deleted, 5);
      assert.deepEqual(await handledIds('prune-a'), ['new-0', 'new-1']);
      assert.deepEqual(await handledIds('prune-b'), ['old-0', 'old-1'], "another consumer's ids are its own");
    });

    it('forgets handled event ids once the bus cannot deliver their event (its retention plus a day)', async () => {
      const bus = new MemoryBus({ logger, retentionMs: DAY });
      const group = 'prune-consumer';
      await handle.database.db
        .insert(processedEvents)
        .values([
          ...handledAt(group, 'gone', 3, 2 * DAY + 3_600_000),
          ...handledAt(group, 'kept', 2, 2 * DAY - 3_600_000),
        ]);
      const subscription = await subscribeIdempotent({
        bus,
        database: handle.database,
        tables,
        deadLetters: new DeadLetters(handle.database, tables.deadLetters),
        group,
        subjects: ['fixture.prune.*'],
        logger,
        pruneEveryMs: 20,
        handle: async () => {},
      });
      const event = createEvent('fixture.prune.handled', {});
      await bus.publish(event);
      await waitFor(async () => (await handledIds(group)).length === 3);
      await subscription.close();
      await bus.close();

      assert.deepEqual(await handledIds(group), [event.id, 'kept-0', 'kept-1'].sort());
    });

    it('deletes, migrating, the published rows an older relay left in the outbox', async () => {
      // A database migrated before this change: every migration before the one that deletes them.
      const older = await mkdtemp(join(tmpdir(), 'parley-migrations-'));
      const fresh = await open();
      try {
        const journal = JSON.parse(
          await readFile(join(migrationsFolder, 'meta', '_journal.json'), 'utf8'),
        ) as {
          entries: { tag: string }[];
        };
        const cleanup = journal.entries.findIndex((entry) => entry.tag === '0003_legacy_outbox_rows');
        assert.ok(cleanup > 0);
        const before = journal.entries.slice(0, cleanup);
        await mkdir(join(older, 'meta'));
        await writeFile(
          join(older, 'meta', '_journal.json'),
          JSON.stringify({ ...journal, entries: before }),
        );
        for (const { tag } of before) {
          await copyFile(join(migrationsFolder, `${tag}.sql`), join(older, `${tag}.sql`));
        }
        await migrate(fresh.database, { schema: 'store_fixture', migrationsFolder: older });
        const published = createEvent('fixture.legacy.sent', {});
        const pending = createEvent('fixture.legacy.pending', {});
        await fresh.database.db.insert(outbox).values([
          { eventId: published.id, type: published.type, envelope: published, publishedAt: new Date() },
          { eventId: pending.id, type: pending.type, envelope: pending },
        ]);

        await migrate(fresh.database, { schema: 'store_fixture', migrationsFolder });

        const left = await fresh.database.db.select({ id: outbox.eventId }).from(outbox);
        assert.deepEqual(
          left.map((row) => row.id),
          [pending.id],
        );
      } finally {
        await fresh.dispose();
        await rm(older, { recursive: true, force: true });
      }
    });
  });
}
