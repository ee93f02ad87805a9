import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../database.ts';

export interface TestDatabase {
  database: Database;
  /** The URL of the throwaway PostgreSQL database, for a second process or pool; undefined on PGlite. */
  url: string | undefined;
  dispose(): Promise<void>;
}

/** An in-memory PGlite, private to the caller. */
export async function openPgliteTestDatabase(): Promise<TestDatabase> {
  const database = await openDatabase({});
  return { database, url: undefined, dispose: () => database.close() };
}

/**
 * A fresh PostgreSQL database created next to `baseUrl`'s and dropped on dispose, so test files can run in
 * parallel without sharing schemas.
 */
export async function openPostgresTestDatabase(baseUrl: string, poolSize = 10): Promise<TestDatabase> {
  const name = `parley_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), poolSize });
  return {
    database,
    url: url.toString(),
    dispose: async () => {
      await database.close();
      const dropper = new pg.Client({ connectionString: baseUrl });
      await dropper.connect();
      try {
        await dropper.query(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
