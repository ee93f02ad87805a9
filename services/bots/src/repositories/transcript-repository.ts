import type { Executor } from '@parley/store';
import { and, asc, desc, eq, gt, lte, sql } from 'drizzle-orm';
import { contextResets, transcript } from '../schema/schema.ts';

export type TranscriptRow = typeof transcript.$inferSelect;

/** How many messages per conversation are kept for context; far more than any bot's contextMessages. */
export const TRANSCRIPT_KEEP = 200;

export class TranscriptRepository {
  constructor(private readonly db: Executor) {}

  /** Idempotent by (conversation, seq): redelivered events and the bot's own direct record are harmless. */
  async record(row: TranscriptRow): Promise<void> {
    await this.db.insert(transcript).values(row).onConflictDoNothing();
    if (row.seq % 50 === 0) {
      await this.db
        .delete(transcript)
        .where(
          and(
            eq(transcript.conversationId, row.conversationId),
            lte(transcript.seq, row.seq - TRANSCRIPT_KEEP),
          ),
        );
    }
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
    // One round trip: the reset point is read in the same statement.
    const resetSeq = sql`coalesce((select ${contextResets.afterSeq} from ${contextResets} where ${contextResets.conversationId} = ${conversationId}), 0)`;
    const rows = await this.db
      .select()
      .from(transcript)
      .where(
        and(
          eq(transcript.conversationId, conversationId),
          gt(transcript.seq, resetSeq),
          lte(transcript.seq, upToSeq),
        ),
      )
      .orderBy(desc(transcript.seq))
      .limit(limit);
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
