import type { Bus } from '@parley/bus';
import type { Logger } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { getTableConfig } from 'drizzle-orm/pg-core';
import type { Database } from './database.ts';
import type { CommitPublisher, CommittedEvent, Outbox } from './outbox.ts';
import type { RelayProgress, RelayRound } from './outbox-relay.ts';
import type { EventTables } from './outbox-tables.ts';
import { PreparedQuery } from './prepared-query.ts';
import { PublishedRows } from './published-rows.ts';

export interface DirectPublisherOptions {
  database: Database;
  tables: Pick<EventTables, 'outbox'>;
  bus: Bus;
  logger: Logger;
  /** Where rows this publisher could not publish go back to, for the relay. */
  outbox: Outbox;
  /** The relay those rows go to: direct publishing resumes once it has published every one of them. */
  relay: RelayProgress;
  /** How long a row stays this process's to publish (default 30 s): a crash delays its events by this. */
  leaseMs?: number;
  /** Published rows are deleted together, at most this often (default 50 ms). */
  deleteEveryMs?: number;
}

/**
 * The outbox's direct path: a process publishes the events it has just committed itself, in commit order,
 * instead of waiting for a relay round (three round trips after the commit, and a transaction per round).
 * Their rows carry a lease that keeps every relay away; they are deleted in batches once the bus has the
 * events for good (PublishedRows: at once on JetStream, once handled on the in-process bus). If publishing
 * fails the lease is lifted and the relay takes over at once, and every later event follows it there until
 * the relay has published all that was handed back, so none overtakes them; if the process dies first, the
 * lease lapses and any relay publishes them (at least once, as ever).
 */
export class DirectPublisher implements CommitPublisher {
  readonly leaseMs: number;
  private chain: Promise<void> = Promise.resolve();
  private readonly rows: PublishedRows;
  /**
   * Positions handed back to the relay that it has not yet been seen to publish. While any is left, new
   * events are handed back too: the relay publishes in outbox order, so they cannot overtake.
   */
  private readonly handedBack = new Set<number>();
  /** Set while this publisher follows the relay's rounds: from its first hand-back until it stops. */
  private stopWatching: (() => void) | undefined;
  private checking = false;
  private readonly present: PreparedQuery<{ position: string | number }>;

  constructor(private readonly options: DirectPublisherOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
    const { database, tables, bus, logger, deleteEveryMs } = options;
    this.rows = new PublishedRows({ database, tables, bus, logger, deleteEveryMs });
    const { outbox } = tables;
    this.present = new PreparedQuery(
      `${getTableConfig(outbox).schema ?? 'public'}_outbox_present`,
      sql`select ${outbox.position} as position from ${outbox}
        where ${outbox.position} = any (${sql.placeholder('positions')}::bigint[])`,
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

  /** Publishes what it was given and deletes what the bus has for good; what it could not, the relay gets. */
  async stop(): Promise<void> {
    await this.chain;
    this.stopWatching?.();
    this.stopWatching = undefined;
    await this.rows.stop();
  }

  private async publish(events: CommittedEvent[]): Promise<void> {
    if (this.handedBack.size > 0) {
      await this.handBack(events.map((event) => event.position));
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
      this.options.logger.warn(
        { err: error, events: unsent.length },
        'publishing committed events failed; the outbox relay takes them, and the next ones until it has published them',
      );
      await this.handBack(unsent.map((event) => event.position));
    }
  }

  private async handBack(positions: number[]): Promise<void> {
    this.stopWatching ??= this.options.relay.onRound((round) => this.relayed(round));
    // Noted before the lease is lifted, so no relay round can publish one before it is awaited.
    for (const position of positions) this.handedBack.add(position);
    await this.options.outbox.handBack(positions);
  }

  private relayed(round: RelayRound): void {
    for (const position of round.published) this.handedBack.delete(position);
    if (round.caughtUp && this.handedBack.size > 0) void this.forgetPublishedElsewhere();
  }

  /**
   * The relay found nothing more to claim, yet some handed-back rows were not among what it published: the
   * relay of another process took them (or they were still under a lease that could not be lifted). Those
   * whose rows are gone are out; the others are still on their way, and are awaited.
   */
  private async forgetPublishedElsewhere(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const positions = [...this.handedBack];
      const left = await this.present.rows(this.options.database.db, { positions });
      const still = new Set(left.map((row) => Number(row.position)));
      for (const position of positions) if (!still.has(position)) this.handedBack.delete(position);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not check on events handed back to the relay');
    } finally {
      this.checking = false;
    }
  }
}
