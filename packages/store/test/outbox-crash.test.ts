import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryBus } from '@parley/bus';
import { createLogger } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { eq, inArray } from 'drizzle-orm';
import { type Database, openDatabase } from '../src/database.ts';
import { DeadLetters } from '../src/dead-letters.ts';
import { subscribeIdempotent } from '../src/idempotent-consumer.ts';
import { migrate } from '../src/migrate.ts';
import { Outbox } from '../src/outbox.ts';
import { OutboxPublishing } from '../src/outbox-publishing.ts';
import { openPostgresTestDatabase } from '../src/testing/test-database.ts';
import { startOutboxPublishing, stored, waitFor } from './fixture/helpers.ts';
import type { OutboxProcessConfig, OutboxProcessReport } from './fixture/outbox-process.ts';
import { deadLetters, effects, outbox, processedEvents } from './fixture/schema.ts';

const { databaseUrl } = testBackends();
const migrationsFolder = fileURLToPath(new URL('./fixture/migrations', import.meta.url));
const child = fileURLToPath(new URL('./fixture/outbox-process.ts', import.meta.url));
const logger = createLogger({ level: 'silent' });
const tables = { outbox, processedEvents, deadLetters };
/** Short, so the test is quick; the mechanism is the same as with the default 30 s. */
const LEASE_MS = 1500;

/** Where a second process finds the same database: PostgreSQL by URL, PGlite by its data directory. */
interface Backend {
  config: Pick<OutboxProcessConfig, 'databaseUrl' | 'dataDir'>;
  open(): Promise<Database>;
  dispose(): Promise<void>;
}

async function pgliteBackend(): Promise<Backend> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-outbox-crash-'));
  return {
    config: { dataDir },
    open: () => openDatabase({ dataDir }),
    dispose: () => rm(dataDir, { recursive: true, force: true }),
  };
}

async function postgresBackend(baseUrl: string): Promise<Backend> {
  const test = await openPostgresTestDatabase(baseUrl, 2);
  return {
    config: { databaseUrl: test.url },
    open: () => openDatabase({ databaseUrl: test.url, poolSize: 4 }),
    dispose: () => test.dispose(),
  };
}

/** Starts the embedded service process and resolves with its report once its bus holds both events. */
function startService(config: OutboxProcessConfig): {
  process: ChildProcess;
  next: () => Promise<OutboxProcessReport>;
  exited: Promise<number | null>;
} {
  const service = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => service.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: service.stdout! })[Symbol.asyncIterator]();
  return {
    process: service,
    exited,
    next: async () => {
      const line = await lines.next();
      if (line.done) throw new Error('the service process ended without reporting');
      return JSON.parse(line.value) as OutboxProcessReport;
    },
  };
}

/**
 * The next start of the service: a healthy consumer, its publishing, over the same database. `soleProcess`:
 * first lifts the leases the dead run left, as a process does that knows no other one uses its database.
 */
async function restart(database: Database, { leaseMs = LEASE_MS, soleProcess = false } = {}) {
  const bus = new MemoryBus({ logger });
  await subscribeIdempotent({
    bus,
    database,
    tables,
    deadLetters: new DeadLetters(database, tables.deadLetters),
    group: 'crash',
    subjects: ['fixture.crash.>'],
    logger,
    handle: async (tx, event) => {
      await tx.insert(effects).values({ eventId: event.id, consumer: 'crash' });
    },
  });
  if (soleProcess) {
    const outboxOnly = { outbox };
    await new OutboxPublishing({
      outbox: new Outbox(database, outboxOnly, logger),
      database,
      tables: outboxOnly,
      bus,
      logger,
      leaseMs,
    }).liftOrphanedLeases();
  }
  const { publishing } = startOutboxPublishing(database, bus, logger, { leaseMs });
  return async () => {
    await publishing.stop();
    await bus.close();
  };
}

async function handledBoth(database: Database, ids: string[]): Promise<boolean> {
  const rows = await database.db.select().from(effects).where(inArray(effects.eventId, ids));
  return rows.length === ids.length;
}

const CRASHES: { what: string; service: Pick<OutboxProcessConfig, 'mode' | 'lateGroup'> }[] = [
  { what: 'is SIGKILLed while its handler holds the events', service: { mode: 'hang' } },
  { what: 'stops cleanly while its events wait for a retry', service: { mode: 'retry-then-stop' } },
  {
    what: 'is SIGKILLed right after its start, its group subscribed after they were published',
    service: { mode: 'hang', lateGroup: true },
  },
];

function runCrashCases(name: string, backend: () => Promise<Backend>): void {
  describe(`outbox over the in-process bus, across processes: ${name}`, () => {
    for (const { what, service: crash } of CRASHES) {
      it(`loses no event when the process ${what}: the next process publishes them`, async () => {
        const where = await backend();
        let running: ChildProcess | undefined;
        try {
          const setup = await where.open();
          await migrate(setup, { schema: 'store_fixture', migrationsFolder });
          // PGlite's data directory is one process's at a time.
          if (where.config.dataDir) await setup.close();

          const service = startService({ ...where.config, ...crash, leaseMs: LEASE_MS });
          running = service.process;
          const report = await service.next();
          assert.ok('held' in report, 'the service reports the events it holds');
          const ids = report.held;
          if (crash.mode === 'hang') {
            service.process.kill('SIGKILL');
            assert.equal(await service.exited, null, 'killed, not exited');
          } else {
            assert.deepEqual(await service.next(), { stopped: true });
            assert.equal(await service.exited, 0);
          }

          const database = where.config.dataDir ? await where.open() : setup;
          try {
            assert.equal(await stored(database, ids), 2, 'both rows outlived the bus that held their events');
            const restartedAt = Date.now();
            const stop = await restart(database);
            try {
              await waitFor(() => handledBoth(database, ids), LEASE_MS + 10_000);
              assert.ok(Date.now() - restartedAt < LEASE_MS + 5000, 'within about a lease of the restart');
              await waitFor(async () => (await stored(database, ids)) === 0);
            } finally {
              await stop();
            }
            const effectRows = await database.db.select().from(effects).where(eq(effects.consumer, 'crash'));
            assert.deepEqual(effectRows.map((row) => row.eventId).sort(), [...ids].sort());
          } finally {
            await database.close();
          }
        } finally {
          // A test failing early must not leave its service process behind.
          if (running?.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
          await where.dispose();
        }
      });
    }
  });
}

runCrashCases('PGlite (data directory)', pgliteBackend);

describe('outbox over the in-process bus, the only process on its PGlite', () => {
  it('publishes what a SIGKILLed run left leased at once, not a lease later', async () => {
    // Long enough that waiting it out cannot pass for publishing at once.
    const leaseMs = 60_000;
    const where = await pgliteBackend();
    let running: ChildProcess | undefined;
    try {
      const setup = await where.open();
      await migrate(setup, { schema: 'store_fixture', migrationsFolder });
      await setup.close();
      const service = startService({ ...where.config, mode: 'hang', leaseMs });
      running = service.process;
      const report = await service.next();
      assert.ok('held' in report, 'the service reports the events it holds');
      service.process.kill('SIGKILL');
      await service.exited;

      const database = await where.open();
      try {
        const stop = await restart(database, { leaseMs, soleProcess: true });
        try {
          await waitFor(() => handledBoth(database, report.held), 10_000);
          await waitFor(async () => (await stored(database, report.held)) === 0);
        } finally {
          await stop();
        }
      } finally {
        await database.close();
      }
    } finally {
      if (running?.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
      await where.dispose();
    }
  });
});
if (databaseUrl) {
  runCrashCases('PostgreSQL', () => postgresBackend(databaseUrl));
} else {
  describe('outbox over the in-process bus, across processes: PostgreSQL', {
    skip: skipReason('DATABASE_URL', 'outbox crash cases on PostgreSQL'),
  }, () => {});
}
