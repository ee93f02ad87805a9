import type { Executor } from '@parley/store';
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import { replies } from '../schema/schema.ts';

export type ReplyRow = typeof replies.$inferSelect;
export type ReplyClaim = Pick<
  ReplyRow,
  'triggerMessageId' | 'conversationId' | 'triggerSeq' | 'botId' | 'userId'
>;

export class RepliesRepository {
  constructor(private readonly db: Executor) {}

  /**
   * Claims the reply to one user message for this process: true for exactly one caller across all
   * processes and redeliveries; everyone else finds the row and leaves the message alone.
   */
  async claim(claim: ReplyClaim, leaseMs: number): Promise<boolean> {
    const inserted = await this.db
      .insert(replies)
      .values({ ...claim, state: 'running', leaseUntil: new Date(Date.now() + leaseMs) })
      .onConflictDoNothing()
      .returning({ id: replies.triggerMessageId });
    return inserted.length > 0;
  }

  /**
   * Takes over replies whose owner stopped renewing (its process died): rows are locked with SKIP LOCKED,
   * so two sweeping processes never take the same one, and the attempt count grows with every takeover.
   */
  async takeOverLapsed(limit: number, leaseMs: number): Promise<ReplyRow[]> {
    return this.db.transaction(async (tx) => {
      const lapsed = await tx
        .select({ id: replies.triggerMessageId })
        .from(replies)
        .where(and(eq(replies.state, 'running'), lt(replies.leaseUntil, new Date())))
        .limit(limit)
        .for('update', { skipLocked: true });
      if (lapsed.length === 0) return [];
      return tx
        .update(replies)
        .set({
          attempts: sql`${replies.attempts} + 1`,
          leaseUntil: new Date(Date.now() + leaseMs),
          updatedAt: new Date(),
        })
        .where(
          inArray(
            replies.triggerMessageId,
            lapsed.map((row) => row.id),
          ),
        )
        .returning();
    });
  }

  /** Gives a reply up for takeover at once (graceful shutdown with replies still running). */
  async release(triggerMessageIds: string[]): Promise<void> {
    if (triggerMessageIds.length === 0) return;
    await this.db
      .update(replies)
      .set({ leaseUntil: new Date(0), updatedAt: new Date() })
      .where(and(inArray(replies.triggerMessageId, triggerMessageIds), eq(replies.state, 'running')));
  }

  async complete(
    executor: Executor,
    triggerMessageId: string,
    outcome: string,
    replyMessageId: string | null,
  ): Promise<void> {
    await executor
      .update(replies)
      .set({ state: 'done', outcome, replyMessageId, updatedAt: new Date() })
      .where(eq(replies.triggerMessageId, triggerMessageId));
  }

  async find(triggerMessageId: string): Promise<ReplyRow | undefined> {
    const [row] = await this.db.select().from(replies).where(eq(replies.triggerMessageId, triggerMessageId));
    return row;
  }
}
