import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Executor } from './database.ts';

const dialect = new PgDialect();

/**
 * A statement for a hot path, rendered to SQL text once: Drizzle spends 0.2–0.5 ms of CPU assembling a
 * query on every call (measured on the benchmarks' two-core machine), more than PostgreSQL takes to answer
 * a lookup by key. Write it with `sql` and `sql.placeholder('name')` for what changes between calls. On
 * PostgreSQL it runs as a named statement, parsed and planned once per connection; PGlite's driver has no
 * statement names and runs it as an ordinary parameterized query. Works on a database and in a transaction.
 */
export class PreparedQuery<T> {
  private readonly query: { sql: string; params: unknown[] };

  constructor(
    private readonly name: string,
    statement: SQL,
  ) {
    this.query = dialect.sqlToQuery(statement);
  }

  rows(executor: Executor, values: Record<string, unknown> = {}): Promise<T[]> {
    return executePrepared<T>(executor, this.name, this.query, values);
  }
}

export async function executePrepared<T>(
  executor: Executor,
  name: string,
  query: { sql: string; params: unknown[] },
  values: Record<string, unknown> = {},
): Promise<T[]> {
  const prepared = executor._.session.prepareQuery<{ execute: { rows: T[] }; all: unknown; values: unknown }>(
    query,
    undefined,
    name,
    false,
  );
  return (await prepared.execute(values)).rows;
}
