import { type Executor, PreparedQuery } from '@parley/store';
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import { replies, transcript } from '../schema/schema.ts';
import type { TranscriptRow } from './transcript-repository.ts';

export type ReplyRow = typeof replies.$inferSelect;
export type ReplyClaim = Pick<
  ReplyRow,
  'triggerMessageId' | 'conversationId' | 'triggerSeq' | 'botId' | 'userId'
>;

const at = sql.placeholder;
const recordAndClaimQuery = new PreparedQuery<{ claimed: boolean }>(
  'bots_record_and_claim',
  sql`with line as (
      insert into ${transcript} (conversation_id, seq, message_id, sender_type, body, created_at)
      values (${at('conversationId')}, ${at('seq')}, ${at('messageId')}, ${at('senderType')}, ${at('body')},
        ${at('createdAt')}::timestamptz)
      on conflict do nothing
    ),
    claimed as (
      insert into ${replies} (trigger_message_id, conversation_id, trigger_seq, bot_id, user_id, state,
        lease_until)
      values (${at('triggerMessageId')}, ${at('conversationId')}, ${at('triggerSeq')}, ${at('botId')},
        ${at('userId')}, 'running', ${at('leaseUntil')}::timestamptz)
      on conflict do nothing
      returning 1
    )
    select exists (select 1 from claimed) as claimed`,
);

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
   * A user's question: its transcript line written and its reply claimed ({@link claim}) in one
   * statement, so the reply waits for one round trip and one commit instead of two side by side. Both
   * writes are idempotent, so a redelivery that finds them done changes nothing and claims nothing.
   */
  async recordAndClaim(line: TranscriptRow, claim: ReplyClaim, leaseMs: number): Promise<boolean> {
    const [row] = await recordAndClaimQuery.rows(this.db, {
      ...line,
      ...claim,
      createdAt: line.createdAt.toISOString(),
      leaseUntil: new Date(Date.now() + leaseMs).toISOString(),
    });
    return row?.claimed === true;
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

  /** Extends the lease of replies this process still holds (queued or streaming), so none is taken over. */
  async renew(triggerMessageIds: string[], leaseMs: number): Promise<void> {
    if (triggerMessageIds.length === 0) return;
    await this.db
      .update(replies)
      .set({ leaseUntil: new Date(Date.now() + leaseMs) })
      .where(and(inArray(replies.triggerMessageId, triggerMessageIds), eq(replies.state, 'running')));
  }

  /** Gives a reply up for takeover at once (graceful shutdown with replies still running). */
  async release(triggerMessageIds: string[]): Promise<void> {
    if (triggerMessageIds.length === 0) return;
    await this.db
      .update(replies)
      .set({ leaseUntil: new Date(0), updatedAt: new Date() })
      .where(and(inArray(replies.triggerMessageId, triggerMessageIds), eq(replies.state, 'running')));
  }

  /** Gives every unfinished reply up for takeover at once; how many there were. */
  async releaseAll(): Promise<number> {
    const released = await this.db
      .update(replies)
      .set({ leaseUntil: new Date(0), updatedAt: new Date() })
      .where(eq(replies.state, 'running'))
      .returning({ id: replies.triggerMessageId });
    return released.length;
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
