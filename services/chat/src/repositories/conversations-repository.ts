import type { Executor } from '@parley/store';
import { and, asc, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { conversations, members, messages } from '../schema/schema.ts';

export type ConversationRow = typeof conversations.$inferSelect;
export type NewConversationRow = typeof conversations.$inferInsert;
export type MemberRow = typeof members.$inferSelect;
export type MemberRole = MemberRow['role'];

export interface ConversationListFilter {
  userId: string;
  status?: ConversationRow['status'] | undefined;
  type?: ConversationRow['type'] | undefined;
  /** Keyset position: strictly older activity than this (activity time, id). */
  before?: { at: Date; id: string } | undefined;
  limit: number;
}

export class ConversationsRepository {
  constructor(private readonly db: Executor) {}

  async insert(
    executor: Executor,
    row: NewConversationRow,
    memberRows: Omit<MemberRow, 'joinedAt' | 'deliveredSeq' | 'readSeq'>[],
  ) {
    const [created] = await executor.insert(conversations).values(row).returning();
    if (memberRows.length > 0) await executor.insert(members).values(memberRows);
    return created!;
  }

  async findById(id: string, executor: Executor = this.db): Promise<ConversationRow | undefined> {
    const [row] = await executor.select().from(conversations).where(eq(conversations.id, id));
    return row;
  }

  /** The conversation and the user's membership row (if any) in one round trip: every send starts here. */
  async findWithMember(
    conversationId: string,
    userId: string,
  ): Promise<{ conversation: ConversationRow; member: MemberRow | undefined } | undefined> {
    const [row] = await this.db
      .select({ conversation: conversations, member: members })
      .from(conversations)
      .leftJoin(members, and(eq(members.conversationId, conversations.id), eq(members.userId, userId)))
      .where(eq(conversations.id, conversationId));
    return row ? { conversation: row.conversation, member: row.member ?? undefined } : undefined;
  }

  async findByDirectKey(directKey: string): Promise<ConversationRow | undefined> {
    const [row] = await this.db.select().from(conversations).where(eq(conversations.directKey, directKey));
    return row;
  }

  async findMember(conversationId: string, userId: string): Promise<MemberRow | undefined> {
    const [row] = await this.db
      .select()
      .from(members)
      .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)));
    return row;
  }

  async membersOf(conversationIds: readonly string[], executor: Executor = this.db): Promise<MemberRow[]> {
    if (conversationIds.length === 0) return [];
    return executor
      .select()
      .from(members)
      .where(inArray(members.conversationId, [...conversationIds]))
      .orderBy(asc(members.joinedAt), asc(members.userId));
  }

  async countMembers(conversationId: string, executor: Executor = this.db): Promise<number> {
    const [row] = await executor
      .select({ n: sql<number>`count(*)::int` })
      .from(members)
      .where(eq(members.conversationId, conversationId));
    return row?.n ?? 0;
  }

  listQuery(filter: ConversationListFilter) {
    const conditions: SQL[] = [eq(members.userId, filter.userId)];
    if (filter.status) conditions.push(eq(conversations.status, filter.status));
    if (filter.type) conditions.push(eq(conversations.type, filter.type));
    if (filter.before) {
      conditions.push(
        sql`(${conversations.lastActivityAt}, ${conversations.id}) < (${filter.before.at.toISOString()}::timestamptz, ${filter.before.id})`,
      );
    }
    return this.db
      .select({ conversation: conversations })
      .from(members)
      .innerJoin(conversations, eq(conversations.id, members.conversationId))
      .where(and(...conditions))
      .orderBy(desc(conversations.lastActivityAt), desc(conversations.id))
      .limit(filter.limit);
  }

  /** The caller's conversations, most recent activity first (keyset paging on activity time and id). */
  async listForUser(filter: ConversationListFilter): Promise<ConversationRow[]> {
    const rows = await this.listQuery(filter);
    return rows.map((row) => row.conversation);
  }

  unreadQuery(userId: string, conversationIds: readonly string[]) {
    return this.db
      .select({ conversationId: members.conversationId, unread: sql<number>`count(${messages.id})::int` })
      .from(members)
      .leftJoin(
        messages,
        and(
          eq(messages.conversationId, members.conversationId),
          sql`${messages.seq} > ${members.readSeq}`,
          sql`${messages.senderId} <> ${members.userId}`,
          sql`${messages.deletedAt} is null`,
        ),
      )
      .where(and(eq(members.userId, userId), inArray(members.conversationId, [...conversationIds])))
      .groupBy(members.conversationId);
  }

  /** Messages from others after the user's read mark, per conversation. */
  async unreadCounts(userId: string, conversationIds: readonly string[]): Promise<Map<string, number>> {
    if (conversationIds.length === 0) return new Map();
    const rows = await this.unreadQuery(userId, conversationIds);
    return new Map(rows.map((row) => [row.conversationId, row.unread]));
  }

  /** Per member of one conversation: unread messages from others (for per-recipient conversation:updated). */
  async unreadByMember(conversationId: string): Promise<Map<string, number>> {
    const rows = await this.db
      .select({ userId: members.userId, unread: sql<number>`count(${messages.id})::int` })
      .from(members)
      .leftJoin(
        messages,
        and(
          eq(messages.conversationId, members.conversationId),
          sql`${messages.seq} > ${members.readSeq}`,
          sql`${messages.senderId} <> ${members.userId}`,
          sql`${messages.deletedAt} is null`,
        ),
      )
      .where(eq(members.conversationId, conversationId))
      .groupBy(members.userId);
    return new Map(rows.map((row) => [row.userId, row.unread]));
  }

  async update(
    executor: Executor,
    id: string,
    patch: Partial<Pick<ConversationRow, 'title' | 'status' | 'assigneeId' | 'handledBy' | 'lastMessage'>>,
  ): Promise<ConversationRow | undefined> {
    const [row] = await executor
      .update(conversations)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(conversations.id, id))
      .returning();
    return row;
  }

  /**
   * Shows a changed message's new state as the conversation's lastMessage, only while it still is the last
   * one: the condition is checked against the row as it is when the update runs (a send committed since
   * the caller's read has moved lastMessage on, and an edit must not move it back).
   */
  async refreshLastMessage(
    executor: Executor,
    id: string,
    lastMessage: NonNullable<ConversationRow['lastMessage']>,
  ): Promise<void> {
    await executor
      .update(conversations)
      .set({ lastMessage, updatedAt: new Date() })
      .where(and(eq(conversations.id, id), sql`${conversations.lastMessage} ->> 'id' = ${lastMessage.id}`));
  }

  async delete(executor: Executor, id: string): Promise<void> {
    await executor.delete(conversations).where(eq(conversations.id, id));
  }

  async addMember(
    executor: Executor,
    conversationId: string,
    userId: string,
    role: MemberRole,
  ): Promise<boolean> {
    const rows = await executor
      .insert(members)
      .values({ conversationId, userId, role })
      .onConflictDoNothing()
      .returning({ userId: members.userId });
    return rows.length > 0;
  }

  async removeMember(executor: Executor, conversationId: string, userId: string): Promise<boolean> {
    const rows = await executor
      .delete(members)
      .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
      .returning({ userId: members.userId });
    return rows.length > 0;
  }

  lockQuery(executor: Executor, ids: readonly string[]) {
    return executor
      .select({
        id: conversations.id,
        type: conversations.type,
        botId: conversations.botId,
        handledBy: conversations.handledBy,
        lastSeq: conversations.lastSeq,
        status: conversations.status,
        title: conversations.title,
        assigneeId: conversations.assigneeId,
      })
      .from(conversations)
      .where(inArray(conversations.id, [...ids]))
      .orderBy(asc(conversations.id))
      .for('update');
  }

  /**
   * Locks conversation rows in id order (as the send statement does, so neither can deadlock the other)
   * for a change that must not interleave with sends — status, membership — until the caller commits.
   */
  async lockForSend(executor: Executor, ids: readonly string[]) {
    return this.lockQuery(executor, ids);
  }

  /** Raises a receipt high-water mark (never lowers it, never past the last message); null when unchanged. */
  async raiseReceipt(
    executor: Executor,
    conversationId: string,
    userId: string,
    kind: 'delivered' | 'read',
    seq: number,
  ): Promise<{ deliveredSeq: number; readSeq: number } | null> {
    const capped = sql`least(${seq}::integer, (select ${conversations.lastSeq} from ${conversations} where ${conversations.id} = ${conversationId}))`;
    const set =
      kind === 'read'
        ? {
            readSeq: sql`greatest(${members.readSeq}, ${capped})`,
            deliveredSeq: sql`greatest(${members.deliveredSeq}, ${capped})`,
          }
        : { deliveredSeq: sql`greatest(${members.deliveredSeq}, ${capped})` };
    const column = kind === 'read' ? members.readSeq : members.deliveredSeq;
    const rows = await executor
      .update(members)
      .set(set)
      .where(
        and(
          eq(members.conversationId, conversationId),
          eq(members.userId, userId),
          sql`${column} < ${capped}`,
        ),
      )
      .returning({ deliveredSeq: members.deliveredSeq, readSeq: members.readSeq });
    return rows[0] ?? null;
  }

  /** Everyone who shares at least one conversation with the user (whom their presence concerns). */
  async contactsOf(userId: string): Promise<string[]> {
    const mine = this.db
      .select({ id: members.conversationId })
      .from(members)
      .where(eq(members.userId, userId));
    const rows = await this.db
      .selectDistinct({ userId: members.userId })
      .from(members)
      .where(and(inArray(members.conversationId, mine), sql`${members.userId} <> ${userId}`));
    return rows.map((row) => row.userId);
  }

  /** The last seq of every conversation the user is a member of. */
  async lastSeqsOf(userId: string): Promise<Map<string, number>> {
    const rows = await this.db
      .select({ id: conversations.id, lastSeq: conversations.lastSeq })
      .from(members)
      .innerJoin(conversations, eq(conversations.id, members.conversationId))
      .where(eq(members.userId, userId));
    return new Map(rows.map((row) => [row.id, row.lastSeq]));
  }

  /** Type and last seq of each of these conversations that exists, membership aside. */
  async lastSeqsByIds(
    ids: readonly string[],
  ): Promise<Array<Pick<ConversationRow, 'id' | 'type' | 'lastSeq'>>> {
    if (ids.length === 0) return [];
    return this.db
      .select({ id: conversations.id, type: conversations.type, lastSeq: conversations.lastSeq })
      .from(conversations)
      .where(inArray(conversations.id, [...ids]));
  }
}
