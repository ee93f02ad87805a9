import type { Executor } from '@parley/store';
import { and, asc, desc, eq, gt, lte, sql } from 'drizzle-orm';
import { contextResets, transcript } from '../schema/schema.ts';

export type TranscriptRow = typeof transcript.$inferSelect;

/** How many messages per conversation are kept for context; far more than any bot's contextMessages. */
export const TRANSCRIPT_KEEP = 200;

export class TranscriptRepository {
  /** Read for every LLM reply: built once, not per call (see PreparedQuery for what that saves). */
  private readonly recent;

  constructor(private readonly db: Executor) {
    const conversationId = sql.placeholder('conversationId');
    // One round trip: the reset point is read in the same statement.
    const resetSeq = sql`coalesce((select ${contextResets.afterSeq} from ${contextResets} where ${contextResets.conversationId} = ${conversationId}), 0)`;
    this.recent = db
      .select()
      .from(transcript)
      .where(
        and(
          eq(transcript.conversationId, conversationId),
          gt(transcript.seq, resetSeq),
          lte(transcript.seq, sql.placeholder('upToSeq')),
        ),
      )
      .orderBy(desc(transcript.seq))
      .limit(sql.placeholder('limit'))
      .prepare('bots_recent_transcript');
  }

  /** Idempotent by (conversation, seq): redelivered events and the bot's own direct record are harmless. */
  async record(row: TranscriptRow): Promise<void> {
    await this.db.insert(transcript).values(row).onConflictDoNothing();
    await this.trimAfter(row);
  }

  /** Every 50th line drops what fell out of the kept window; call it after writing `row` by other means. */
  async trimAfter(row: Pick<TranscriptRow, 'conversationId' | 'seq'>): Promise<void> {
    if (row.seq % 50 !== 0) return;
    await this.db
      .delete(transcript)
      .where(
        and(
          eq(transcript.conversationId, row.conversationId),
          lte(transcript.seq, row.seq - TRANSCRIPT_KEEP),
        ),
      );
  }

  async find(conversationId: string, seq: number): Promise<TranscriptRow | undefined> {
    const [row] = await this.db
      .select()
      .from(transcript)
      .where(and(eq(transcript.conversationId, conversationId), eq(transcript.seq, seq)));
    return row;
  }

  /** The last `limit` messages since the last `/reset`, up to and including `upToSeq`, oldest first. */
  async recentSinceReset(conversationId: string, upToSeq: number, limit: number): Promise<TranscriptRow[]> {
    const rows = await this.recent.execute({ conversationId, upToSeq, limit });
    return rows.reverse();
  }

  /** `/reset`: everything up to `seq` stops being context. Never moves backwards. */
  async reset(conversationId: string, seq: number): Promise<void> {
    await this.db
      .insert(contextResets)
      .values({ conversationId, afterSeq: seq })
      .onConflictDoUpdate({
        target: contextResets.conversationId,
        set: {
          afterSeq: sql`greatest(${contextResets.afterSeq}, excluded.after_seq)`,
          updatedAt: new Date(),
        },
      });
  }

  async resetSeq(conversationId: string): Promise<number> {
    const [row] = await this.db
      .select({ afterSeq: contextResets.afterSeq })
      .from(contextResets)
      .where(eq(contextResets.conversationId, conversationId));
    return row?.afterSeq ?? 0;
  }

  /** For tests pinning the order: the seqs kept for a conversation. */
  async seqs(conversationId: string): Promise<number[]> {
    const rows = await this.db
      .select({ seq: transcript.seq })
      .from(transcript)
      .where(eq(transcript.conversationId, conversationId))
      .orderBy(asc(transcript.seq));
    return rows.map((row) => row.seq);
  }
}
