import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NatsBus } from '@parley/bus';
import { createEvent, createLogger } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { eq } from 'drizzle-orm';
import { connect } from 'nats';
import { DeadLetters } from '../src/dead-letters.ts';
import { subscribeIdempotent } from '../src/idempotent-consumer.ts';
import { migrate } from '../src/migrate.ts';
import { Outbox } from '../src/outbox.ts';
import { OutboxRelay } from '../src/outbox-relay.ts';
import {
  openPgliteTestDatabase,
  openPostgresTestDatabase,
  type TestDatabase,
} from '../src/testing/test-database.ts';
import { deadLetters, effects, outbox, processedEvents } from './fixture/schema.ts';
import { waitFor } from './store-contract.ts';

const { natsUrl, databaseUrl } = testBackends();
const migrationsFolder = fileURLToPath(new URL('./fixture/migrations', import.meta.url));
const logger = createLogger({ level: 'silent' });
const tables = { outbox, processedEvents, deadLetters };

describe(
  'outbox relay crash over NATS JetStream',
  natsUrl ? {} : { skip: skipReason('NATS_URL', 'outbox relay over NATS JetStream') },
  () => {
    const suffix = randomBytes(4).toString('hex');
    const stream = `PTEST_RELAY_${suffix.toUpperCase()}`;
    const subjectPrefix = `ptestrelay${suffix}`;
    let handle: TestDatabase;

    before(async () => {
      handle = databaseUrl ? await openPostgresTestDatabase(databaseUrl) : await openPgliteTestDatabase();
      await migrate(handle.database, { schema: 'store_fixture', migrationsFolder });
    });
    after(async () => {
      await handle.dispose();
      const nc = await connect({ servers: natsUrl });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(stream).catch(() => false);
      await nc.close();
    });

    it('loses nothing and doubles nothing when the relay dies between publish and mark-as-sent', async () => {
      const url = natsUrl as string;
      const consumerBus = await NatsBus.connect({ url, stream, subjectPrefix, logger });
      const relayBus = await NatsBus.connect({ url, stream, subjectPrefix, logger });
      const group = `relay-crash-${suffix}`;
      let deliveries = 0;
      await subscribeIdempotent({
        bus: consumerBus,
        database: handle.database,
        tables,
        deadLetters: new DeadLetters(handle.database, tables.deadLetters),
        group,
        subjects: ['fixture.nats.*'],
        logger,
        handle: async (tx, event) => {
          deliveries++;
          await tx.insert(effects).values({ eventId: event.id, consumer: group });
        },
      });

      const box = new Outbox(handle.database, tables);
      const event = createEvent('fixture.nats.crashed', { n: 1 });
      await box.transaction((tx) => box.add(tx, event));

      const dying = new OutboxRelay({
        database: handle.database,
        tables,
        bus: relayBus,
        logger,
        afterPublish: async () => {
          throw new Error('killed after publish, before mark-as-sent');
        },
      });
      await assert.rejects(dying.drain(), /killed after publish/);
      const restarted = new OutboxRelay({ database: handle.database, tables, bus: relayBus, logger });
      assert.equal(await restarted.drain(), 1, 'the event was still unmarked and went out again');

      await waitFor(async () => {
        const rows = await handle.database.db.select().from(effects).where(eq(effects.eventId, event.id));
        return rows.length === 1;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const rows = await handle.database.db.select().from(effects).where(eq(effects.eventId, event.id));
      assert.equal(rows.length, 1, 'handled exactly once');
      assert.equal(deliveries, 1, 'JetStream de-duplicated the republished message by event id');
      await relayBus.close();
      await consumerBus.close();
    });
  },
);
