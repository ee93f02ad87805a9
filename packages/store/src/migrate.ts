import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { type Database, queryRows } from './database.ts';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * Applies a service's drizzle-kit migrations to its own schema, in one transaction, under an advisory
 * lock so that several processes starting together apply each migration exactly once.
 */
export async function migrate(
  database: Database,
  options: { schema: string; migrationsFolder: string },
): Promise<{ applied: number }> {
  const { schema, migrationsFolder } = options;
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name "${schema}"`);
  const migrations = readMigrationFiles({ migrationsFolder });
  return database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`parley:migrate:${schema}`}))`);
    await tx.execute(sql.raw(`create schema if not exists "${schema}"`));
    await tx.execute(
      sql.raw(
        `create table if not exists "${schema}"."__migrations" (id serial primary key, hash text not null, created_at bigint not null, applied_at timestamptz not null default now())`,
      ),
    );
    const [last] = await queryRows<{ created_at: string | number }>(
      tx,
      sql.raw(`select created_at from "${schema}"."__migrations" order by created_at desc limit 1`),
    );
    const lastApplied = Number(last?.created_at ?? 0);
    let applied = 0;
    for (const migration of migrations) {
      if (migration.folderMillis <= lastApplied) continue;
      for (const statement of migration.sql) {
        // The schema already exists: it holds the bookkeeping table created above.
        const text = statement.replace(/^\s*CREATE SCHEMA "/i, 'CREATE SCHEMA IF NOT EXISTS "');
        if (text.trim()) await tx.execute(sql.raw(text));
      }
      await tx.execute(
        sql`insert into ${sql.identifier(schema)}."__migrations" (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
      applied++;
    }
    return { applied };
  });
}
