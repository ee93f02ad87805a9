import type { Executor } from '@parley/store';
import { and, asc, desc, eq, gt, inArray, lt, or, sql } from 'drizzle-orm';
import { members, messages } from '../schema/schema.ts';

export type MessageRow = typeof messages.$inferSelect;
export type NewMessageRow = typeof messages.$inferInsert;

export class MessagesRepository {
  constructor(private readonly db: Executor) {}

  async findById(id: string, executor: Executor = this.db): Promise<MessageRow | undefined> {
    const [row] = await executor.select().from(messages).where(eq(messages.id, id));
    return row;
  }

  /** The message `senderId` sent with `clientMessageId` in that conversation (the pair is unique per sender). */
  async findByClientMessageId(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<MessageRow | undefined> {
    const [row] = await this.db
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.senderId, senderId),
          eq(messages.clientMessageId, clientMessageId),
          eq(messages.conversationId, conversationId),
        ),
      );
    return row;
  }

  afterQuery(conversationId: string, afterSeq: number, limit: number) {
    return this.db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), gt(messages.seq, afterSeq)))
      .orderBy(asc(messages.seq))
      .limit(limit);
  }

  /** Messages after `afterSeq`, oldest first. */
  async after(conversationId: string, afterSeq: number, limit: number): Promise<MessageRow[]> {
    return this.afterQuery(conversationId, afterSeq, limit);
  }

  /** Messages before `beforeSeq`, newest first (the caller reverses them into seq order). */
  async before(conversationId: string, beforeSeq: number, limit: number): Promise<MessageRow[]> {
    return this.db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), lt(messages.seq, beforeSeq)))
      .orderBy(desc(messages.seq))
      .limit(limit);
  }

  async update(
    executor: Executor,
    id: string,
    patch: Partial<Pick<MessageRow, 'body' | 'editedAt' | 'deletedAt' | 'revision' | 'attachments'>>,
  ): Promise<MessageRow | undefined> {
    const [row] = await executor.update(messages).set(patch).where(eq(messages.id, id)).returning();
    return row;
  }

  changesQuery(userId: string, sinceRevision: number, alsoIn: readonly string[], limit: number) {
    const mine = this.db
      .select({ id: members.conversationId })
      .from(members)
      .where(eq(members.userId, userId));
    const inMine = inArray(messages.conversationId, mine);
    return this.db
      .select()
      .from(messages)
      .where(
        and(
          gt(messages.revision, sinceRevision),
          alsoIn.length > 0 ? or(inMine, inArray(messages.conversationId, [...alsoIn])) : inMine,
        ),
      )
      .orderBy(asc(messages.revision))
      .limit(limit);
  }

  /**
   * Edits and deletes with a revision after `sinceRevision`, in change order, in the user's conversations
   * and in `alsoIn` (conversations the user may read without being a member: staff working them).
   */
  async changesSince(
    userId: string,
    sinceRevision: number,
    alsoIn: readonly string[],
    limit: number,
  ): Promise<MessageRow[]> {
    return this.changesQuery(userId, sinceRevision, alsoIn, limit);
  }

  searchQuery(userId: string, query: string, beforeId: string | undefined, limit: number) {
    const mine = this.db
      .select({ id: members.conversationId })
      .from(members)
      .where(eq(members.userId, userId));
    const matches = sql`to_tsvector('simple', ${messages.body}) @@ websearch_to_tsquery('simple', ${query})`;
    return this.db
      .select()
      .from(messages)
      .where(
        and(
          inArray(messages.conversationId, mine),
          sql`${messages.deletedAt} is null`,
          matches,
          beforeId ? lt(messages.id, beforeId) : undefined,
        ),
      )
      .orderBy(desc(messages.id))
      .limit(limit);
  }

  /** Full-text search (PostgreSQL `simple` configuration, GIN-indexed) over the user's conversations, newest first. */
  async search(
    userId: string,
    query: string,
    beforeId: string | undefined,
    limit: number,
  ): Promise<MessageRow[]> {
    return this.searchQuery(userId, query, beforeId, limit);
  }
}
