import type { Database } from '@parley/store';
import { sql } from 'drizzle-orm';
import type { LatencySummary } from './protocol.ts';
import { pace, summarize } from './stats.ts';

const body = 'x'.repeat(120);

/** Runs `task` from `workers` concurrent loops for `ms`; returns completions per second. */
export async function closedLoop(workers: number, ms: number, task: () => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + ms;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        await task();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/**
 * Single-row autocommit inserts at `rate`, open loop, each timed from this process through the pool: the
 * database's commit latency as a plain client sees it at that rate. A failed insert is counted, not timed.
 */
async function pacedSingleRows(
  insert: () => Promise<unknown>,
  rate: number,
  ms: number,
): Promise<{ ack: LatencySummary; failed: number }> {
  const latencies: number[] = [];
  const outstanding: Promise<void>[] = [];
  let failed = 0;
  await pace(rate, ms, () => {
    const started = performance.now();
    outstanding.push(
      insert().then(
        () => void latencies.push(performance.now() - started),
        () => void failed++,
      ),
    );
  });
  await Promise.all(outstanding);
  return { ack: summarize(latencies), failed };
}

/**
 * The database ceilings: a message-shaped row (with its (conversation, seq) key) inserted raw from this
 * process, one row per autocommit statement, or 100 rows per statement.
 */
export async function rawInserts(database: Database, connections: number) {
  await database.db.execute(sql`create table bench_messages (id text primary key,
    conversation_id text not null, seq integer not null, sender_id text not null, body text not null,
    created_at timestamptz not null default now(), unique (conversation_id, seq))`);
  let seq = 0;
  const insertOne = () => {
    const next = ++seq;
    return database.db.execute(
      sql`insert into bench_messages (id, conversation_id, seq, sender_id, body) values (${`m${next}`}, 'c1', ${next}, 'u1', ${body})`,
    );
  };
  return {
    single: (ms: number) => closedLoop(connections, ms, insertOne),
    /** Beside Parley's ack latency at the same rate: what the database's commits alone take. */
    pacedSingle: (rate: number, ms: number) => pacedSingleRows(insertOne, rate, ms),
    batched: async (ms: number) =>
      100 *
      (await closedLoop(4, ms, () => {
        const rows = Array.from({ length: 100 }, () => {
          const next = ++seq;
          return sql`(${`m${next}`}, 'c2', ${next}, 'u1', ${body})`;
        });
        return database.db.execute(
          sql`insert into bench_messages (id, conversation_id, seq, sender_id, body) values ${sql.join(rows, sql`, `)}`,
        );
      })),
  };
}
