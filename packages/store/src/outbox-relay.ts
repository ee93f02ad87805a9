import type { Bus } from '@parley/bus';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { getTableConfig } from 'drizzle-orm/pg-core';
import type { Database } from './database.ts';
import type { EventTables } from './outbox-tables.ts';
import { PreparedQuery } from './prepared-query.ts';

export interface RelayOptions {
  database: Database;
  tables: Pick<EventTables, 'outbox'>;
  bus: Bus;
  logger: Logger;
  pollMs?: number;
  batchSize?: number;
  /** Test seam: runs after a batch is published and before its deletion commits. */
  afterPublish?: (events: EventEnvelope[]) => Promise<void>;
}

/**
 * Publishes outbox rows to the bus in commit order and deletes them. Rows are claimed with SKIP LOCKED, so
 * relays in several processes share the work; a crash between publish and commit republishes the batch
 * (at least once), which the bus's dedupe and the consumers' idempotency absorb. Rows under a lease are
 * their writer's to publish (DirectPublisher) until it lapses.
 */
export class OutboxRelay {
  private readonly pollMs: number;
  private readonly batchSize: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** A wake that came while a batch was being published: the next idle must not sleep through it. */
  private wakePending = false;
  private failures = 0;
  private readonly claim: PreparedQuery<{ position: string | number; envelope: EventEnvelope }>;

  constructor(private readonly options: RelayOptions) {
    this.pollMs = options.pollMs ?? 250;
    this.batchSize = options.batchSize ?? 200;
    const { outbox } = options.tables;
    // The oldest unclaimed rows are deleted, and so locked, by the transaction that publishes them; rows
    // their writer is still publishing itself (a lease) are left to it. published_at is no longer set
    // (published rows are gone); the condition keeps the planner on the partial index of pending rows.
    this.claim = new PreparedQuery(
      `${getTableConfig(outbox).schema ?? 'public'}_outbox_claim`,
      sql`delete from ${outbox} where ${outbox.position} in (
        select ${outbox.position} from ${outbox}
        where ${outbox.publishedAt} is null and (${outbox.leaseUntil} is null or ${outbox.leaseUntil} < now())
        order by ${outbox.position} limit ${sql.placeholder('limit')} for update skip locked)
      returning ${outbox.position} as position, ${outbox.envelope} as envelope`,
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  /** Publishes everything pending now that no writer holds a lease on; returns how many events went out. */
  async drain(): Promise<number> {
    let total = 0;
    for (let sent = await this.publishBatch(); sent > 0; sent = await this.publishBatch()) total += sent;
    return total;
  }

  /**
   * Stops the loop and publishes what is still pending (leased rows excepted: their writer publishes or
   * hands them back), so a graceful shutdown leaves nothing behind.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    try {
      await this.drain();
    } catch (error) {
      this.options.logger.warn(
        { err: error },
        'outbox drain at shutdown failed; events stay for the next start',
      );
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let sent = 0;
      try {
        sent = await this.publishBatch();
        this.failures = 0;
      } catch (error) {
        this.failures++;
        this.options.logger.error({ err: error, failures: this.failures }, 'outbox relay failed; retrying');
      }
      if (sent < this.batchSize && this.running) await this.idle();
    }
  }

  private idle(): Promise<void> {
    if (this.wakePending && this.failures === 0) {
      this.wakePending = false;
      return Promise.resolve();
    }
    const delay = this.failures > 0 ? Math.min(10_000, this.pollMs * 2 ** this.failures) : this.pollMs;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.wakePending = false;
        resolve();
      };
      timer = setTimeout(done, delay);
      this.wakeUp = done;
    });
  }

  /**
   * One round: the oldest unclaimed rows are deleted (and so locked) in the transaction that publishes
   * them, which commits only after the bus took every event; if publishing fails or the process dies, the
   * transaction rolls back and the rows are there for the next round. One statement both claims and
   * removes: a delete writes no new row version, where marking rows as sent rewrote every event once more.
   */
  private async publishBatch(): Promise<number> {
    return this.options.database.db.transaction(async (tx) => {
      const rows = await this.claim.rows(tx, { limit: this.batchSize });
      if (rows.length === 0) return 0;
      // RETURNING follows no order: commit order is the positions'.
      const events = rows
        .map((row) => ({ position: Number(row.position), envelope: row.envelope }))
        .sort((a, b) => a.position - b.position)
        .map((row) => row.envelope);
      for (const event of events) await this.options.bus.publish(event);
      await this.options.afterPublish?.(events);
      return rows.length;
    });
  }
}
