import type { Executor } from '@parley/store';
import { and, desc, eq, gt, isNull, ne } from 'drizzle-orm';
import { type SessionRow, sessions } from '../schema/sessions.ts';

export type NewSession = Pick<
  SessionRow,
  'id' | 'userId' | 'rotationSecret' | 'userAgent' | 'ip' | 'expiresAt'
>;

export class SessionRepository {
  async insert(executor: Executor, session: NewSession): Promise<SessionRow> {
    const [row] = await executor.insert(sessions).values(session).returning();
    if (!row) throw new Error('insert returned no row');
    return row;
  }

  async findById(
    executor: Executor,
    id: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<SessionRow | null> {
    const query = executor.select().from(sessions).where(eq(sessions.id, id));
    const [row] = options.forUpdate ? await query.for('update') : await query;
    return row ?? null;
  }

  /** Sessions neither revoked nor past their absolute end; idle ones are filtered by the caller's clock. */
  async listOpen(executor: Executor, userId: string, now: Date): Promise<SessionRow[]> {
    return executor
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(desc(sessions.lastUsedAt));
  }

  async touch(executor: Executor, id: string, at: Date): Promise<void> {
    await executor.update(sessions).set({ lastUsedAt: at }).where(eq(sessions.id, id));
  }

  /** Revokes one session; false when it was already revoked (or does not exist). */
  async revoke(executor: Executor, id: string, reason: string, at: Date): Promise<boolean> {
    const rows = await executor
      .update(sessions)
      .set({ revokedAt: at, revokedReason: reason })
      .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return rows.length > 0;
  }

  /** Revokes every open session of the user (but `exceptId`); returns the ids it revoked. */
  async revokeAllForUser(
    executor: Executor,
    userId: string,
    reason: string,
    at: Date,
    exceptId?: string,
  ): Promise<string[]> {
    const conditions = [eq(sessions.userId, userId), isNull(sessions.revokedAt)];
    if (exceptId) conditions.push(ne(sessions.id, exceptId));
    const rows = await executor
      .update(sessions)
      .set({ revokedAt: at, revokedReason: reason })
      .where(and(...conditions))
      .returning({ id: sessions.id });
    return rows.map((row) => row.id);
  }

  /** Sessions revoked after `since`, with their user (to put them back on a deny list that was lost). */
  async revokedSince(executor: Executor, since: Date): Promise<Array<{ id: string; userId: string }>> {
    return executor
      .select({ id: sessions.id, userId: sessions.userId })
      .from(sessions)
      .where(gt(sessions.revokedAt, since));
  }

  /** Ids of sessions that could still hold live access tokens (for deny-listing on account deletion). */
  async listIdsForUser(executor: Executor, userId: string): Promise<string[]> {
    const rows = await executor.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, userId));
    return rows.map((row) => row.id);
  }
}
