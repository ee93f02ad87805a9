import { type Executor, queryRows } from '@parley/store';
import { sql } from 'drizzle-orm';

/** Draws the revisions of identity's events from the `identity.change_revisions` sequence. */
export class ChangeRevisionRepository {
  /**
   * The next revision. Call it in the change's transaction after the statement that wrote (and so locked)
   * the account's or block's row, or a concurrent change to the same row could draw a smaller one and
   * commit after it.
   */
  async next(executor: Executor): Promise<number> {
    const [row] = await queryRows<{ revision: string | bigint }>(
      executor,
      sql`select nextval('identity.change_revisions') as revision`,
    );
    return Number(row!.revision);
  }
}
