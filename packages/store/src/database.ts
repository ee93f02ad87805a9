import { access, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type Logger, sqlState } from '@parley/kernel';

import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { readPgliteTemplate } from './pglite-template.ts';

/** The Drizzle handle every repository receives, whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT>;
export type Tx = PgTransaction<
  PgQueryResultHKT,
  Record<string, never>,
  ExtractTablesWithRelations<Record<string, never>>
>;
/** Either a database or an open transaction: repositories accept both so services decide the boundary. */
export type Executor = Db | Tx;

/** Raw SQL for the few queries Drizzle's builder cannot express; both drivers answer with `rows`. */
export async function queryRows<T>(executor: Executor, query: SQL): Promise<T[]> {
  const result = (await executor.execute(query)) as { rows: T[] };
  return result.rows;
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL; without it, embedded PGlite in `dataDir` (or in memory when `dataDir` is undefined). */
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  poolSize?: number;
  logger?: Logger;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options.dataDir);
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'parley',
    // Named statements (PreparedQuery, queryPreparedDocument) are the hot paths, written to run well on a
    // generic plan (send-statements.ts). Left to choose, PostgreSQL kept re-planning the chat send batch on
    // some connections at bind (0.4 ms of a 1.2 ms statement, seen in the server's log at low send rates);
    // forced generic, a bot conversation's send was acknowledged ~0.5 ms sooner at p50 (bench/bots.ts, two
    // A/B pairs). Statements without a name are planned for their values as before. Not on PGlite: its
    // prepared statements take the document as a literal (prepared-document.ts), and forced generic there
    // the same benchmark answered 1–2 ms later. As a startup parameter it costs no round trip and holds
    // from the connection's first statement.
    options: '-c plan_cache_mode=force_generic_plan',
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', (error) => options.logger?.warn({ err: error }, 'idle database connection failed'));
  // Nor may a client that errs again after that: the pool stops listening to a client once it has dropped
  // it, and a reset connection can report a second error while it is being closed (seen with the database
  // cut mid-run: an unhandled 'error' on a Client took the process down).
  pool.on('connect', (client) => {
    client.on('error', () => {
      // Reported once, by the pool's listener above or by the query that was running.
    });
  });
  const db: Db = drizzleNodePostgres({ client: pool });
  await db.execute(sql`select 1`);
  return {
    kind: 'postgres',
    db,
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => pool.end(),
  };
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  let client: PGlite;
  let lock: DataDirLock | undefined;
  if (dataDir === undefined) {
    client = new PGlite();
  } else {
    const directory = join(dataDir, 'pglite');
    await mkdir(dataDir, { recursive: true });
    lock = await lockDataDir(join(dataDir, 'pglite.lock'), directory);
    try {
      client = await openPgliteDirectory(dataDir, directory);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }
  await client.waitReady;
  const db: Db = drizzlePglite({ client });
  let closed = false;
  return {
    kind: 'pglite',
    db,
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        await lock?.release();
      }
    },
  };
}

async function openPgliteDirectory(dataDir: string, directory: string): Promise<PGlite> {
  // PGlite fills an empty directory file by file (template or initdb) and writes PG_VERSION before the
  // configuration files: a process killed in between left a cluster that never opened again ("PGlite
  // failed to initialize properly"). The marker, there until the first open is done, says the directory
  // holds nothing but that unfinished start, so it is started over.
  const initialising = join(dataDir, 'pglite.initialising');
  if (await exists(initialising)) await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const fresh = (await readdir(directory)).length === 0;
  if (fresh) await writeFile(initialising, '');
  const template = fresh ? await readPgliteTemplate() : undefined;
  const client = new PGlite(directory, template ? { loadDataDir: template } : {});
  await client.waitReady;
  if (fresh) await rm(initialising);
  return client;
}

// Once in the store's API, where its callers look for it; it lives in the kernel beside the error mapping.
export { sqlState };

const SERIALIZATION_FAILURES = new Set(['40001', '40P01']);

export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/** Retries a whole transaction on serialization failures and deadlocks only; every other error is final. */
export async function withSerializationRetry<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = sqlState(error);
      if (attempt >= attempts || code === undefined || !SERIALIZATION_FAILURES.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
