import { testBackends } from '@parley/kernel/testing';
import { openPgliteTestDatabase, openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';

/**
 * PostgreSQL when DATABASE_URL is set (a throwaway database per call), embedded PGlite otherwise: the
 * route tests run on whichever the machine has, the reply tests always on PGlite (what `npm start` uses).
 */
export async function openTestDatabase(): Promise<TestDatabase> {
  const { databaseUrl } = testBackends();
  return databaseUrl ? openPostgresTestDatabase(databaseUrl) : openPgliteTestDatabase();
}
