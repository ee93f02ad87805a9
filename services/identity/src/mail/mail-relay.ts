import type { Logger } from '@parley/kernel';
import type { Mailer } from '@parley/mailer';
import type { Database } from '@parley/store';
import type { MailOutboxRepository, PendingMail } from '../repositories/mail-outbox-repository.ts';

export interface MailRelayOptions {
  database: Database;
  mails: MailOutboxRepository;
  mailer: Mailer;
  logger: Logger;
  pollMs?: number;
  maxAttempts?: number;
}

/** While a node sends a mail, the row is leased to it; a node that dies mid-send frees it after this. */
const LEASE_MS = 5 * 60_000;
const BATCH = 20;

/**
 * Sends the mails queued in `mail_outbox` after their transaction committed: leases a batch in a short
 * transaction, sends outside it (SMTP may be slow; an embedded database must not wait on it), deletes
 * what went out, and retries failures with exponential backoff.
 */
export class MailRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly pollMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly options: MailRelayOptions) {
    this.pollMs = options.pollMs ?? 1000;
    this.maxAttempts = options.maxAttempts ?? 8;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  wake(): void {
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  /** Sends everything due now; returns how many mails went out. */
  async drain(): Promise<number> {
    let sent = 0;
    for (let batch = await this.lease(); batch.length > 0; batch = await this.lease()) {
      for (const mail of batch) sent += (await this.send(mail)) ? 1 : 0;
    }
    return sent;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.drain();
      } catch (error) {
        this.options.logger.error({ err: error }, 'mail relay failed; retrying');
      }
      if (this.running) await this.idle();
    }
  }

  private lease(): Promise<PendingMail[]> {
    const { database, mails } = this.options;
    return database.db.transaction((tx) => mails.lease(tx, new Date(), BATCH, LEASE_MS));
  }

  private async send(mail: PendingMail): Promise<boolean> {
    const { database, mails, mailer, logger } = this.options;
    try {
      await mailer.send(mail.payload);
      await mails.delete(database.db, mail.position);
      return true;
    } catch (error) {
      const attempts = mail.attempts + 1;
      if (attempts >= this.maxAttempts) {
        logger.error({ err: error, position: mail.position, attempts }, 'mail given up');
        await mails.delete(database.db, mail.position);
        return false;
      }
      const backoffMs = Math.min(3600_000, 1000 * 2 ** attempts);
      logger.warn({ err: error, position: mail.position, attempts }, 'mail failed; will retry');
      await mails.recordFailure(database.db, mail.position, String(error), new Date(Date.now() + backoffMs));
      return false;
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
