import type { Executor } from '@parley/store';
import { asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { type MailPayload, mailOutbox } from '../schema/mail-outbox.ts';

export interface PendingMail {
  position: number;
  payload: MailPayload;
  attempts: number;
}

export class MailOutboxRepository {
  async add(executor: Executor, payload: MailPayload): Promise<void> {
    await executor.insert(mailOutbox).values({ payload });
  }

  /**
   * Leases due mails to the caller for `leaseMs` (SKIP LOCKED: several identity nodes share the work)
   * and returns them; the lease is what stops another node from sending the same mail meanwhile.
   */
  async lease(executor: Executor, now: Date, limit: number, leaseMs: number): Promise<PendingMail[]> {
    const due = await executor
      .select({ position: mailOutbox.position })
      .from(mailOutbox)
      .where(lte(mailOutbox.nextAttemptAt, now))
      .orderBy(asc(mailOutbox.position))
      .limit(limit)
      .for('update', { skipLocked: true });
    if (due.length === 0) return [];
    return executor
      .update(mailOutbox)
      .set({ nextAttemptAt: new Date(now.getTime() + leaseMs) })
      .where(
        inArray(
          mailOutbox.position,
          due.map((row) => row.position),
        ),
      )
      .returning({
        position: mailOutbox.position,
        payload: mailOutbox.payload,
        attempts: mailOutbox.attempts,
      });
  }

  async delete(executor: Executor, position: number): Promise<void> {
    await executor.delete(mailOutbox).where(eq(mailOutbox.position, position));
  }

  async recordFailure(
    executor: Executor,
    position: number,
    error: string,
    nextAttemptAt: Date,
  ): Promise<void> {
    await executor
      .update(mailOutbox)
      .set({ attempts: sql`${mailOutbox.attempts} + 1`, lastError: error, nextAttemptAt })
      .where(eq(mailOutbox.position, position));
  }
}
