import type { Bus } from '@parley/bus';
import type { Logger } from '@parley/kernel';
import type { Database } from './database.ts';
import type { CommitPublisher, CommittedEvent, Outbox } from './outbox.ts';
import type { EventTables } from './outbox-tables.ts';
import { PublishedRows } from './published-rows.ts';

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
 * Their rows carry a lease that keeps every relay away; they are deleted in batches once the bus has the
 * events for good (PublishedRows: at once on JetStream, once handled on the in-process bus). If
 * publishing fails the lease is lifted and the relay takes over at once, for the next few seconds' events
 * too (so none overtakes those handed back); if the process dies first, the lease lapses and any relay
 * publishes them (at least once, as ever).
 */
export class DirectPublisher implements CommitPublisher {
  readonly leaseMs: number;
  private chain: Promise<void> = Promise.resolve();
  private readonly rows: PublishedRows;
  private readonly handBackMs: number;
  /** Until then (after a failure) events go straight to the relay. */
  private handingBackUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: DirectPublisherOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.handBackMs = options.handBackMs ?? 5000;
    const { database, tables, bus, logger, deleteEveryMs } = options;
    this.rows = new PublishedRows({ database, tables, bus, logger, deleteEveryMs });
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

  /** Publishes what it was given and deletes what the bus has for good; what it could not, the relay gets. */
  async stop(): Promise<void> {
    await this.chain;
    await this.rows.stop();
  }

  private async publish(events: CommittedEvent[]): Promise<void> {
    if (performance.now() < this.handingBackUntil) {
      await this.options.outbox.handBack(events.map((event) => event.position));
      return;
    }
    let sent = 0;
    try {
      for (const { envelope, position } of events) {
        this.rows.publishing(envelope.id, position);
        await this.options.bus.publish(envelope);
        this.rows.published(position);
        sent++;
      }
    } catch (error) {
      const unsent = events.slice(sent);
      for (const event of unsent) this.rows.failed(event.envelope.id);
      this.handingBackUntil = performance.now() + this.handBackMs;
      this.options.logger.warn(
        { err: error, events: unsent.length },
        'publishing committed events failed; the outbox relay takes them, and the next ones for a while',
      );
      await this.options.outbox.handBack(unsent.map((event) => event.position));
    }
  }
}
