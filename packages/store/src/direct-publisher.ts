import type { Bus } from '@parley/bus';
import type { Logger } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { getTableConfig } from 'drizzle-orm/pg-core';
import type { Database } from './database.ts';
import type { CommitPublisher, CommittedEvent, Outbox } from './outbox.ts';
import type { EventTables } from './outbox-tables.ts';
import { PreparedQuery } from './prepared-query.ts';

export interface DirectPublisherOptions {
  database: Database;
  tables: Pick<EventTables, 'outbox'>;
  bus: Bus;
  logger: Logger;
  /** Where rows this publisher could not publish go back to, for the relay. */
  outbox: Outbox;
  /** How long a row stays this process's to publish (default 30 s): a crash delays its events by this. */
  leaseMs?: number;
  /** Published rows are deleted together, at most this often (default 50 ms). */
  deleteEveryMs?: number;
  /**
   * After a failed publish, how long every event goes to the relay instead (default 5 s): the relay
   * publishes in outbox order, so later events cannot overtake the ones handed back.
   */
  handBackMs?: number;
}

/**
 * The outbox's direct path: a process publishes the events it has just committed itself, in commit order,
 * instead of waiting for a relay round (three round trips after the commit, and a transaction per round).
 * Their rows carry a lease that keeps every relay away; once published they are deleted in batches. If
 * publishing fails the lease is lifted and the relay takes over at once, for the next few seconds' events
 * too (so none overtakes those handed back); if the process dies first, the lease lapses and any relay
 * publishes them (at least once, as ever).
 */
export class DirectPublisher implements CommitPublisher {
  readonly leaseMs: number;
  private readonly deleteEveryMs: number;
  private chain: Promise<void> = Promise.resolve();
  private readonly published: number[] = [];
  private deleteTimer: NodeJS.Timeout | undefined;
  private deleting: Promise<void> = Promise.resolve();
  private readonly remove: PreparedQuery<never>;
  private readonly handBackMs: number;
  /** Until then (after a failure) events go straight to the relay. */
  private handingBackUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: DirectPublisherOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.deleteEveryMs = options.deleteEveryMs ?? 50;
    this.handBackMs = options.handBackMs ?? 5000;
    const { outbox } = options.tables;
    this.remove = new PreparedQuery(
      `${getTableConfig(outbox).schema ?? 'public'}_outbox_remove`,
      sql`delete from ${outbox} where ${outbox.position} = any (${sql.placeholder('positions')}::bigint[])`,
    );
  }

  publishCommitted(events: CommittedEvent[]): void {
    if (events.length === 0) return;
    const ordered = [...events].sort((a, b) => a.position - b.position);
    this.chain = this.chain
      .then(() => this.publish(ordered))
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'direct publishing failed; the relay takes over');
      });
  }

  /** Publishes what it was given and deletes what it published; what it could not, the relay gets. */
  async stop(): Promise<void> {
    await this.chain;
    clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    await this.deleting;
    await this.deletePublished();
  }

  private async publish(events: CommittedEvent[]): Promise<void> {
    if (performance.now() < this.handingBackUntil) {
      await this.options.outbox.handBack(events.map((event) => event.position));
      return;
    }
    let sent = 0;
    try {
      for (const event of events) {
        await this.options.bus.publish(event.envelope);
        sent++;
      }
    } catch (error) {
      this.handingBackUntil = performance.now() + this.handBackMs;
      this.options.logger.warn(
        { err: error, events: events.length - sent },
        'publishing committed events failed; the outbox relay takes them, and the next ones for a while',
      );
      await this.options.outbox.handBack(events.slice(sent).map((event) => event.position));
    }
    if (sent === 0) return;
    for (const event of events.slice(0, sent)) this.published.push(event.position);
    this.deleteTimer ??= setTimeout(() => {
      this.deleteTimer = undefined;
      this.deleting = this.deletePublished();
    }, this.deleteEveryMs);
  }

  private async deletePublished(): Promise<void> {
    const positions = this.published.splice(0);
    if (positions.length === 0) return;
    try {
      await this.remove.rows(this.options.database.db, { positions });
    } catch (error) {
      // Left in place, they are published again when their lease lapses: a duplicate, never a loss.
      this.options.logger.warn({ err: error }, 'could not delete published outbox rows');
    }
  }
}
