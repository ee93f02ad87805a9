import type { Executor } from '@parley/store';
import { and, eq, inArray, ne, or, sql } from 'drizzle-orm';
import { blocks, conversations, members, users } from '../schema/schema.ts';

export interface UserRecord {
  id: string;
  displayName: string;
  role: 'user' | 'agent' | 'manager' | 'admin';
  active: boolean;
}

/** The users/blocks read model, written only by identity event consumers (and what blocks silence). */
export class UsersRepository {
  constructor(private readonly db: Executor) {}

  async upsert(executor: Executor, user: UserRecord): Promise<void> {
    await executor
      .insert(users)
      .values({ ...user, updatedAt: new Date() })
      .onConflictDoUpdate({
        target: users.id,
        set: { displayName: user.displayName, role: user.role, active: user.active, updatedAt: new Date() },
      });
  }

  async setActive(executor: Executor, userId: string, active: boolean): Promise<void> {
    await executor.update(users).set({ active, updatedAt: new Date() }).where(eq(users.id, userId));
  }

  async findMany(ids: readonly string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    return this.db
      .select({ id: users.id, displayName: users.displayName, role: users.role, active: users.active })
      .from(users)
      .where(inArray(users.id, [...ids]));
  }

  async addBlock(executor: Executor, blockerId: string, blockedId: string): Promise<void> {
    await executor.insert(blocks).values({ blockerId, blockedId }).onConflictDoNothing();
  }

  async removeBlock(executor: Executor, blockerId: string, blockedId: string): Promise<void> {
    await executor
      .delete(blocks)
      .where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId)));
  }

  /** Which of `others` have blocked `userId` or are blocked by them. */
  async blockedAmong(userId: string, others: readonly string[]): Promise<string[]> {
    if (others.length === 0) return [];
    const rows = await this.db
      .select({ blockerId: blocks.blockerId, blockedId: blocks.blockedId })
      .from(blocks)
      .where(
        or(
          and(eq(blocks.blockerId, userId), inArray(blocks.blockedId, [...others])),
          and(inArray(blocks.blockerId, [...others]), eq(blocks.blockedId, userId)),
        ),
      );
    return [...new Set(rows.map((row) => (row.blockerId === userId ? row.blockedId : row.blockerId)))];
  }

  /**
   * Whether the conversation is a direct one whose other member and `userId` have a block between them
   * (either way): then neither hears anything of the other there. One query; a group is never silenced.
   */
  async blockSilences(userId: string, conversationId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ blocked: sql<boolean>`true` })
      .from(conversations)
      .innerJoin(members, and(eq(members.conversationId, conversations.id), ne(members.userId, userId)))
      .innerJoin(
        blocks,
        or(
          and(eq(blocks.blockerId, userId), eq(blocks.blockedId, members.userId)),
          and(eq(blocks.blockerId, members.userId), eq(blocks.blockedId, userId)),
        ),
      )
      .where(and(eq(conversations.id, conversationId), eq(conversations.type, 'direct')))
      .limit(1);
    return row !== undefined;
  }

  /** True when either user has blocked the other. */
  async blockedBetween(a: string, b: string): Promise<boolean> {
    const rows = await this.db
      .select({ blockerId: blocks.blockerId })
      .from(blocks)
      .where(
        or(
          and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)),
          and(eq(blocks.blockerId, b), eq(blocks.blockedId, a)),
        ),
      )
      .limit(1);
    return rows.length > 0;
  }
}
