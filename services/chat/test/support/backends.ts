import { describe } from 'node:test';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPgliteTestDatabase, openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';

export interface TestBackend {
  name: 'PGlite' | 'PostgreSQL';
  open: () => Promise<TestDatabase>;
}

/**
 * The databases a suite runs on: PGlite always, PostgreSQL when DATABASE_URL is set. Without it a skipped
 * suite named after `what` says, in the report, what did not run.
 */
export function databaseBackends(what: string): TestBackend[] {
  const { databaseUrl } = testBackends();
  if (!databaseUrl) {
    describe(`${what} on PostgreSQL`, {
      skip: skipReason('DATABASE_URL', `${what} on PostgreSQL`),
    }, () => {});
    return [{ name: 'PGlite', open: openPgliteTestDatabase }];
  }
  return [
    { name: 'PGlite', open: openPgliteTestDatabase },
    { name: 'PostgreSQL', open: () => openPostgresTestDatabase(databaseUrl, 10) },
  ];
}
