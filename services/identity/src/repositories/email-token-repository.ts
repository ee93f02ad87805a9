import type { Executor } from '@parley/store';
import { and, eq, gt, isNull } from 'drizzle-orm';
import { type EmailTokenPurpose, emailTokens } from '../schema/email-tokens.ts';

export class EmailTokenRepository {
  async insert(
    executor: Executor,
    token: { id: string; userId: string; purpose: EmailTokenPurpose; tokenHash: string; expiresAt: Date },
  ): Promise<void> {
    await executor.insert(emailTokens).values(token);
  }

  /** Marks an unused, unexpired token used and returns its user; null otherwise. One use, atomically. */
  async consume(
    executor: Executor,
    tokenHash: string,
    purpose: EmailTokenPurpose,
    now: Date,
  ): Promise<{ userId: string } | null> {
    const [row] = await executor
      .update(emailTokens)
      .set({ usedAt: now })
      .where(
        and(
          eq(emailTokens.tokenHash, tokenHash),
          eq(emailTokens.purpose, purpose),
          isNull(emailTokens.usedAt),
          gt(emailTokens.expiresAt, now),
        ),
      )
      .returning({ userId: emailTokens.userId });
    return row ?? null;
  }

  /** The owner of an unused, unexpired token, without spending it. */
  async findUsable(
    executor: Executor,
    tokenHash: string,
    purpose: EmailTokenPurpose,
    now: Date,
  ): Promise<{ userId: string } | null> {
    const [row] = await executor
      .select({ userId: emailTokens.userId })
      .from(emailTokens)
      .where(
        and(
          eq(emailTokens.tokenHash, tokenHash),
          eq(emailTokens.purpose, purpose),
          isNull(emailTokens.usedAt),
          gt(emailTokens.expiresAt, now),
        ),
      );
    return row ?? null;
  }

  /** Spends every outstanding token of that purpose (a newer one was sent, or the password changed). */
  async invalidateForUser(
    executor: Executor,
    userId: string,
    purpose: EmailTokenPurpose,
    now: Date,
  ): Promise<void> {
    await executor
      .update(emailTokens)
      .set({ usedAt: now })
      .where(
        and(eq(emailTokens.userId, userId), eq(emailTokens.purpose, purpose), isNull(emailTokens.usedAt)),
      );
  }
}
