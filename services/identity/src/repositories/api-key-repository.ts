import type { Executor } from '@parley/store';
import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { type ApiKeyRow, apiKeys } from '../schema/api-keys.ts';
import { type UserRole, users } from '../schema/users.ts';

export interface ApiKeyOwner {
  key: ApiKeyRow;
  userId: string;
  role: UserRole;
  active: boolean;
}

export class ApiKeyRepository {
  async insert(
    executor: Executor,
    key: Pick<ApiKeyRow, 'id' | 'userId' | 'name' | 'keyHash' | 'keyPrefix' | 'expiresAt'>,
  ): Promise<ApiKeyRow> {
    const [row] = await executor.insert(apiKeys).values(key).returning();
    if (!row) throw new Error('insert returned no row');
    return row;
  }

  /** Serializes key creation per user until the transaction ends, so the per-user cap holds under races. */
  async lockForUser(executor: Executor, userId: string): Promise<void> {
    await executor.execute(
      sql`select pg_advisory_xact_lock(hashtext(${`parley.identity.api-keys:${userId}`}))`,
    );
  }

  async listForUser(executor: Executor, userId: string): Promise<ApiKeyRow[]> {
    return executor.select().from(apiKeys).where(eq(apiKeys.userId, userId)).orderBy(desc(apiKeys.createdAt));
  }

  async delete(executor: Executor, userId: string, id: string): Promise<boolean> {
    const rows = await executor
      .delete(apiKeys)
      .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId)))
      .returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  /** Every key of the user, gone at once (an account recovered by a password reset). */
  async deleteAllForUser(executor: Executor, userId: string): Promise<void> {
    await executor.delete(apiKeys).where(eq(apiKeys.userId, userId));
  }

  async findByHash(executor: Executor, keyHash: string): Promise<ApiKeyOwner | null> {
    const [row] = await executor
      .select({ key: apiKeys, userId: users.id, role: users.role, active: users.active })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(eq(apiKeys.keyHash, keyHash));
    return row ?? null;
  }

  /** Records use at most once per window, so busy scripts do not write on every request. */
  async touch(executor: Executor, id: string, at: Date, staleBefore: Date): Promise<void> {
    await executor
      .update(apiKeys)
      .set({ lastUsedAt: at })
      .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, staleBefore))));
  }
}
