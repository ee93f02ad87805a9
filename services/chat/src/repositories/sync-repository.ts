import type { Executor } from '@parley/store';
import { eq, sql } from 'drizzle-orm';
import { syncState } from '../schema/schema.ts';

const ROW_ID = 1;

/** The global change revision behind sync tokens. */
export class SyncRepository {
  constructor(private readonly db: Executor) {}

  /**
   * Takes the next revision inside the caller's transaction. The upsert holds the single row's lock until
   * commit, so revisions become visible in the order they were taken.
   */
  async nextRevision(executor: Executor): Promise<number> {
    const [row] = await executor
      .insert(syncState)
      .values({ id: ROW_ID, revision: 1 })
      .onConflictDoUpdate({ target: syncState.id, set: { revision: sql`${syncState.revision} + 1` } })
      .returning({ revision: syncState.revision });
    return row!.revision;
  }

  async currentRevision(): Promise<number> {
    const [row] = await this.db
      .select({ revision: syncState.revision })
      .from(syncState)
      .where(eq(syncState.id, ROW_ID));
    return row?.revision ?? 0;
  }
}
