import type { Database } from '@parley/store';
import { sql } from 'drizzle-orm';
import { pacedLatency } from './stats.ts';

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
    /**
     * Single-row inserts at `rate`, open loop, each timed from this process through the pool: beside
     * Parley's ack latency at the same rate, the database's commits as a plain client sees them.
     */
    pacedSingle: (rate: number, ms: number) => pacedLatency(rate, ms, () => insertOne().then(() => true)),
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
