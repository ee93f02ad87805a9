import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { sql } from 'drizzle-orm';
import { openDatabase, queryRows } from '../src/database.ts';
import { migrate } from '../src/migrate.ts';
import { openPostgresTestDatabase } from '../src/testing/test-database.ts';
import { runStoreContract } from './store-contract.ts';

const { databaseUrl } = testBackends();

if (databaseUrl) {
  runStoreContract('PostgreSQL', () => openPostgresTestDatabase(databaseUrl));

  describe('PostgreSQL migrations under concurrency', () => {
    it('applies each migration exactly once when several processes start together', async () => {
      const test = await openPostgresTestDatabase(databaseUrl);
      const migrationsFolder = fileURLToPath(new URL('./fixture/migrations', import.meta.url));
      const migrations = (await readdir(migrationsFolder)).filter((name) => name.endsWith('.sql')).length;
      const pools = await Promise.all(
        Array.from({ length: 4 }, () => openDatabase({ databaseUrl: test.url, poolSize: 1 })),
      );
      try {
        const results = await Promise.all(
          pools.map((database) => migrate(database, { schema: 'store_fixture', migrationsFolder })),
        );
        assert.equal(
          results.reduce((sum, result) => sum + result.applied, 0),
          migrations,
        );
        const rows = await queryRows<{ n: number }>(
          test.database.db,
          sql`select count(*)::int as n from store_fixture.__migrations`,
        );
        assert.equal(rows[0]?.n, migrations);
      } finally {
        await Promise.all(pools.map((database) => database.close()));
        await test.dispose();
      }
    });
  });

  describe('PostgreSQL connections', () => {
    it('plans named statements generically on every connection the pool opens', async () => {
      const test = await openPostgresTestDatabase(databaseUrl, 4);
      try {
        // In parallel, so the pool opens several connections; each must have the setting from its start.
        const settings = await Promise.all(
          Array.from({ length: 4 }, () =>
            queryRows<{ mode: string }>(
              test.database.db,
              sql`select current_setting('plan_cache_mode') as mode, pg_sleep(0.02)`,
            ),
          ),
        );
        assert.deepEqual(
          settings.map(([row]) => row?.mode),
          Array(4).fill('force_generic_plan'),
        );
      } finally {
        await test.dispose();
      }
    });
  });
} else {
  describe('store contract: PostgreSQL', {
    skip: skipReason('DATABASE_URL', 'PostgreSQL store contract'),
  }, () => {});
}
