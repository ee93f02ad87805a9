import type { Executor } from '@parley/store';
import { and, eq, isNull } from 'drizzle-orm';
import { type RefreshTokenRow, refreshTokens } from '../schema/refresh-tokens.ts';

export class RefreshTokenRepository {
  async insert(
    executor: Executor,
    token: Pick<RefreshTokenRow, 'id' | 'sessionId' | 'tokenHash' | 'parentId'>,
  ): Promise<void> {
    await executor.insert(refreshTokens).values(token);
  }

  /** With `forUpdate`, concurrent rotations of the same token queue up behind this transaction. */
  async findByHash(
    executor: Executor,
    tokenHash: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<RefreshTokenRow | null> {
    const query = executor.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash));
    const [row] = options.forUpdate ? await query.for('update') : await query;
    return row ?? null;
  }

  async findChild(executor: Executor, parentId: string): Promise<RefreshTokenRow | null> {
    const [row] = await executor
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.parentId, parentId))
      .limit(1);
    return row ?? null;
  }

  async markSpent(executor: Executor, id: string, at: Date): Promise<boolean> {
    const rows = await executor
      .update(refreshTokens)
      .set({ spentAt: at })
      .where(and(eq(refreshTokens.id, id), isNull(refreshTokens.spentAt)))
      .returning({ id: refreshTokens.id });
    return rows.length > 0;
  }
}
