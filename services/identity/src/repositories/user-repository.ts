import type { Executor } from '@parley/store';
import { and, asc, count, eq, gt, like, ne, or, type SQL, sql } from 'drizzle-orm';
import { type UserRole, type UserRow, users } from '../schema/users.ts';

export type NewUser = Pick<UserRow, 'id' | 'email' | 'displayName' | 'passwordHash'> &
  Partial<Pick<UserRow, 'role' | 'emailVerified'>>;

export type UserChanges = Partial<
  Pick<
    UserRow,
    | 'displayName'
    | 'avatarUrl'
    | 'bio'
    | 'settings'
    | 'role'
    | 'active'
    | 'emailVerified'
    | 'passwordHash'
    | 'tokensValidAfter'
    | 'lastLoginAt'
  >
>;

export interface UserListFilter {
  /** Display-name word prefix, or email prefix. */
  query?: string | undefined;
  /** Match email prefixes too (only for longer queries, see the directory service). */
  matchEmail?: boolean;
  role?: UserRole | undefined;
  active?: boolean | undefined;
  afterId?: string | undefined;
  limit: number;
}

/** Escapes LIKE wildcards so a search for "50%" is a search for that text. */
function likePrefix(value: string): string {
  return `${value.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

export class UserRepository {
  async insert(executor: Executor, user: NewUser): Promise<UserRow> {
    const [row] = await executor.insert(users).values(user).returning();
    if (!row) throw new Error('insert returned no row');
    return row;
  }

  /** Inserts unless the email is taken; null when it was. */
  async insertIfAbsent(executor: Executor, user: NewUser): Promise<UserRow | null> {
    const [row] = await executor
      .insert(users)
      .values(user)
      .onConflictDoNothing({ target: users.email })
      .returning();
    return row ?? null;
  }

  async findById(
    executor: Executor,
    id: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<UserRow | null> {
    const query = executor.select().from(users).where(eq(users.id, id));
    const [row] = options.forUpdate ? await query.for('update') : await query;
    return row ?? null;
  }

  /** Users whose tokens were cut off after `since` (deactivation, role change, password reset). */
  async tokenCutoffsSince(
    executor: Executor,
    since: Date,
  ): Promise<Array<{ id: string; tokensValidAfter: Date | null }>> {
    return executor
      .select({ id: users.id, tokensValidAfter: users.tokensValidAfter })
      .from(users)
      .where(gt(users.tokensValidAfter, since));
  }

  async findByEmail(executor: Executor, email: string): Promise<UserRow | null> {
    const [row] = await executor.select().from(users).where(eq(users.email, email));
    return row ?? null;
  }

  async update(executor: Executor, id: string, changes: UserChanges): Promise<UserRow | null> {
    const [row] = await executor
      .update(users)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(users.id, id))
      .returning();
    return row ?? null;
  }

  async delete(executor: Executor, id: string): Promise<boolean> {
    const rows = await executor.delete(users).where(eq(users.id, id)).returning({ id: users.id });
    return rows.length > 0;
  }

  async list(executor: Executor, filter: UserListFilter): Promise<UserRow[]> {
    const conditions: SQL[] = [];
    if (filter.query) {
      const prefix = likePrefix(filter.query.toLowerCase());
      const name = sql`lower(${users.displayName})`;
      const matches: SQL[] = [like(name, prefix), like(name, `% ${prefix}`)];
      if (filter.matchEmail) matches.push(like(users.email, prefix));
      const any = or(...matches);
      if (any) conditions.push(any);
    }
    if (filter.role) conditions.push(eq(users.role, filter.role));
    if (filter.active !== undefined) conditions.push(eq(users.active, filter.active));
    if (filter.afterId) conditions.push(gt(users.id, filter.afterId));
    return executor
      .select()
      .from(users)
      .where(and(...conditions))
      .orderBy(asc(users.id))
      .limit(filter.limit);
  }

  /**
   * Serializes, until the transaction ends, every change that could take away an active admin: two admins
   * demoting each other at once would otherwise each still count the other and leave none.
   */
  async lockAdminChanges(executor: Executor): Promise<void> {
    await executor.execute(sql`select pg_advisory_xact_lock(hashtext('parley.identity.admins'))`);
  }

  async countActiveAdmins(executor: Executor, options: { excluding?: string } = {}): Promise<number> {
    const conditions = [eq(users.role, 'admin'), eq(users.active, true)];
    if (options.excluding) conditions.push(ne(users.id, options.excluding));
    const [row] = await executor
      .select({ n: count() })
      .from(users)
      .where(and(...conditions));
    return row?.n ?? 0;
  }
}
