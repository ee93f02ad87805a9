import type { Executor } from '@parley/store';
import { and, eq, inArray, ne, or, sql } from 'drizzle-orm';
import { blocks, conversations, members, users } from '../schema/schema.ts';

type Role = 'user' | 'agent' | 'manager' | 'admin';

/** What identity's snapshot of an account tells chat. */
export interface UserProfile {
  id: string;
  displayName: string;
  role: Role;
  active: boolean;
}

/** What chat holds of an account: no profile while it has only heard that the account is gone. */
export interface UserRecord {
  id: string;
  displayName: string | null;
  role: Role | null;
  active: boolean;
}

export interface BlockPair {
  blockerId: string;
  blockedId: string;
}

/** An account row a change may overwrite: not deleted, and reflecting no later change than it. */
const NOT_DELETED_AND_NOT_NEWER = sql`not ${users.deleted} and ${users.revision} <= excluded.revision`;

/**
 * The users/blocks read model, written only by identity event consumers (and what blocks silence). Every
 * write takes identity's revision of the change and leaves alone a row that already reflects a later one,
 * so events may arrive in any order (retries, several consumers, several identity relays) and the read
 * model still ends where identity is.
 */
export class UsersRepository {
  constructor(private readonly db: Executor) {}

  /** Records a snapshot of the account unless chat knows of a later change or of its deletion. True when it did. */
  async applyProfile(executor: Executor, user: UserProfile, revision: number): Promise<boolean> {
    const rows = await executor
      .insert(users)
      .values({ ...user, revision, updatedAt: new Date() })
      .onConflictDoUpdate({
        target: users.id,
        set: {
          displayName: sql`excluded.display_name`,
          role: sql`excluded.role`,
          active: sql`excluded.active`,
          revision: sql`excluded.revision`,
          updatedAt: sql`excluded.updated_at`,
        },
        setWhere: NOT_DELETED_AND_NOT_NEWER,
      })
      .returning({ id: users.id });
    return rows.length > 0;
  }

  /**
   * Records that the account was deactivated, unless chat knows of a later change (a reactivation). An
   * account chat has not heard of yet gets a row without a profile, so its late registration changes
   * nothing. True when it did.
   */
  async applyDeactivation(executor: Executor, userId: string, revision: number): Promise<boolean> {
    const rows = await executor
      .insert(users)
      .values({ id: userId, active: false, revision, updatedAt: new Date() })
      .onConflictDoUpdate({
        target: users.id,
        set: { active: false, revision: sql`excluded.revision`, updatedAt: sql`excluded.updated_at` },
        setWhere: NOT_DELETED_AND_NOT_NEWER,
      })
      .returning({ id: users.id });
    return rows.length > 0;
  }

  /** Records that the account is gone for good: nothing that arrives later makes it active again. */
  async applyDeletion(executor: Executor, userId: string, revision: number): Promise<void> {
    await executor
      .insert(users)
      .values({ id: userId, active: false, deleted: true, revision, updatedAt: new Date() })
      .onConflictDoUpdate({
        target: users.id,
        set: {
          active: false,
          deleted: true,
          revision: sql`greatest(${users.revision}, excluded.revision)`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
  }

  async findMany(ids: readonly string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    return this.db
      .select({ id: users.id, displayName: users.displayName, role: users.role, active: users.active })
      .from(users)
      .where(inArray(users.id, [...ids]));
  }

  /**
   * Records that `blockerId` blocked (`blocked`) or unblocked the other, unless chat knows of a later change
   * to the pair. An unblock keeps the row as a tombstone, so a late, older block cannot come back.
   */
  async applyBlock(executor: Executor, pair: BlockPair, blocked: boolean, revision: number): Promise<void> {
    await executor
      .insert(blocks)
      .values({ ...pair, removed: !blocked, revision })
      .onConflictDoUpdate({
        target: [blocks.blockerId, blocks.blockedId],
        set: { removed: sql`excluded.removed`, revision: sql`excluded.revision` },
        setWhere: sql`${blocks.revision} <= excluded.revision`,
      });
  }

  /** Which of `others` have blocked `userId` or are blocked by them. */
  async blockedAmong(userId: string, others: readonly string[]): Promise<string[]> {
    if (others.length === 0) return [];
    const rows = await this.db
      .select({ blockerId: blocks.blockerId, blockedId: blocks.blockedId })
      .from(blocks)
      .where(
        and(
          eq(blocks.removed, false),
          or(
            and(eq(blocks.blockerId, userId), inArray(blocks.blockedId, [...others])),
            and(inArray(blocks.blockerId, [...others]), eq(blocks.blockedId, userId)),
          ),
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
        and(
          eq(blocks.removed, false),
          or(
            and(eq(blocks.blockerId, userId), eq(blocks.blockedId, members.userId)),
            and(eq(blocks.blockerId, members.userId), eq(blocks.blockedId, userId)),
          ),
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
        and(
          eq(blocks.removed, false),
          or(
            and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)),
            and(eq(blocks.blockerId, b), eq(blocks.blockedId, a)),
          ),
        ),
      )
      .limit(1);
    return rows.length > 0;
  }
}
