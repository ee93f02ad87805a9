import type { Bus } from '@parley/bus';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { getTableConfig } from 'drizzle-orm/pg-core';
import type { Database } from './database.ts';
import type { EventTables } from './outbox-tables.ts';
import { PreparedQuery } from './prepared-query.ts';
import { PublishedRows } from './published-rows.ts';

export interface RelayOptions {
  database: Database;
  tables: Pick<EventTables, 'outbox'>;
  bus: Bus;
  logger: Logger;
  pollMs?: number;
  batchSize?: number;
  /**
   * On the in-process bus, the lease a round puts on the rows it publishes until their events have
   * settled (default 30 s, like the direct path's): after a crash, the next start publishes them again
   * once it lapses.
   */
  leaseMs?: number;
  /** Test seam: runs after a batch is published and before its rows are deleted (or left to settle). */
  afterPublish?: (events: EventEnvelope[]) => Promise<void>;
}

/** What one successful relay round did, for the direct path that hands rows back to the relay. */
export interface RelayRound {
  /** Positions of the rows whose events this round put on the bus (or found the bus still holding). */
  published: number[];
  /** It claimed less than a batch: nothing claimable was left in the outbox when it began. */
  caughtUp: boolean;
}

export interface RelayProgress {
  /** Calls `listener` after every successful round; returns the remover. */
  onRound(listener: (round: RelayRound) => void): () => void;
}

type ClaimedRow = { position: string | number; envelope: EventEnvelope };

/**
 * Publishes outbox rows to the bus in commit order and deletes them. Rows are claimed with SKIP LOCKED, so
 * relays in several processes share the work; a crash between publish and commit republishes the batch
 * (at least once), which the bus's dedupe and the consumers' idempotency absorb. Rows under a lease are
 * their writer's to publish (DirectPublisher) until it lapses.
 *
 * On the in-process bus (`volatileEvents`) a published event lives only in this process's memory until
 * every group has handled it, so a round does not delete the rows it publishes: it leases them, and they
 * are deleted once their events settle (PublishedRows). A lease that lapses while the bus still holds its
 * event (a slow or failing handler) is simply taken again by the next round, which renews it instead of
 * publishing a duplicate. After a crash or a stop, the next start's relay publishes the rows left once
 * their leases lapse, at most `leaseMs` on: by then that process's consumer groups have subscribed, which
 * the in-process bus needs (it offers an event only to the groups that exist when it is published).
 */
export class OutboxRelay implements RelayProgress {
  private readonly pollMs: number;
  private readonly batchSize: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** A wake that came while a batch was being published: the next idle must not sleep through it. */
  private wakePending = false;
  private failures = 0;
  private readonly listeners = new Set<(round: RelayRound) => void>();
  /** Set on the in-process bus only: what deletes rows once their events have settled. */
  private readonly settling: PublishedRows | undefined;
  private readonly leaseInterval: string;
  private readonly claim: PreparedQuery<ClaimedRow>;
  private readonly lease: PreparedQuery<ClaimedRow>;
  private readonly release: PreparedQuery<never>;
  private readonly releaseAll: PreparedQuery<{ position: string | number }>;

  constructor(private readonly options: RelayOptions) {
    this.pollMs = options.pollMs ?? 250;
    this.batchSize = options.batchSize ?? 200;
    this.leaseInterval = `${options.leaseMs ?? 30_000} milliseconds`;
    const { database, tables, bus, logger } = options;
    if (bus.volatileEvents) this.settling = new PublishedRows({ database, tables, bus, logger });
    const { outbox } = tables;
    const schema = getTableConfig(outbox).schema ?? 'public';
    // The oldest unclaimed rows, locked until the statement's transaction ends; rows their writer is still
    // publishing itself (a lease) are left to it. published_at is no longer set (published rows are gone);
    // the condition keeps the planner on the partial index of pending rows.
    const claimable = sql`select ${outbox.position} from ${outbox}
        where ${outbox.publishedAt} is null and (${outbox.leaseUntil} is null or ${outbox.leaseUntil} < now())
        order by ${outbox.position} limit ${sql.placeholder('limit')} for update skip locked`;
    // Deleted, and so locked, by the transaction that publishes them.
    this.claim = new PreparedQuery(
      `${schema}_outbox_claim`,
      sql`delete from ${outbox} where ${outbox.position} in (${claimable})
      returning ${outbox.position} as position, ${outbox.envelope} as envelope`,
    );
    // The in-process bus: leased (and committed at once) instead, to be deleted once settled.
    this.lease = new PreparedQuery(
      `${schema}_outbox_lease`,
      sql`update ${outbox} set ${sql.identifier(outbox.leaseUntil.name)} =
        now() + ${sql.placeholder('lease')}::interval
      where ${outbox.position} in (${claimable})
      returning ${outbox.position} as position, ${outbox.envelope} as envelope`,
    );
    this.release = new PreparedQuery(
      `${schema}_outbox_release`,
      sql`update ${outbox} set ${sql.identifier(outbox.leaseUntil.name)} = null
        where ${outbox.position} = any (${sql.placeholder('positions')}::bigint[])`,
    );
    this.releaseAll = new PreparedQuery(
      `${schema}_outbox_release_all`,
      sql`update ${outbox} set ${sql.identifier(outbox.leaseUntil.name)} = null
        where ${outbox.publishedAt} is null and ${outbox.leaseUntil} is not null
        returning ${outbox.position} as position`,
    );
  }

  /**
   * Lifts every lease on the outbox, for a process that knows it is the only one writing it (embedded
   * PGlite): the leases found at start were left by its previous run, and waiting for them to lapse
   * would hold back that run's last events for a whole lease. Returns how many rows were leased.
   */
  async liftLeases(): Promise<number> {
    return (await this.releaseAll.rows(this.options.database.db, {})).length;
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

  onRound(listener: (round: RelayRound) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Publishes everything pending now that no writer holds a lease on; returns how many rows it took. */
  async drain(): Promise<number> {
    let total = 0;
    for (let sent = await this.publishBatch(); sent > 0; sent = await this.publishBatch()) total += sent;
    return total;
  }

  /**
   * Stops the loop and publishes what is still pending (leased rows excepted: their writer publishes or
   * hands them back), so a graceful shutdown leaves nothing behind that the bus does not have for good.
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
    await this.settling?.stop();
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

  private async publishBatch(): Promise<number> {
    const published = this.settling ? await this.publishLeased(this.settling) : await this.publishDeleted();
    this.reported({ published, caughtUp: published.length < this.batchSize });
    return published.length;
  }

  /**
   * One round on a bus that persists events: the oldest unclaimed rows are deleted (and so locked) in the
   * transaction that publishes them, which commits only after the bus took every event; if publishing fails
   * or the process dies, the transaction rolls back and the rows are there for the next round. One
   * statement both claims and removes: a delete writes no new row version, where marking rows as sent
   * rewrote every event once more.
   */
  private async publishDeleted(): Promise<number[]> {
    return this.options.database.db.transaction(async (tx) => {
      const rows = ordered(await this.claim.rows(tx, { limit: this.batchSize }));
      if (rows.length === 0) return [];
      const events = rows.map((row) => row.envelope);
      for (const event of events) await this.options.bus.publish(event);
      await this.options.afterPublish?.(events);
      return rows.map((row) => row.position);
    });
  }

  /**
   * One round on the in-process bus: the oldest unclaimed rows are leased, then published; each is deleted
   * once its event has settled. A row whose event the bus still holds (its lease lapsed while a handler
   * was slow or failing) is not published again: taking it renewed its lease, which is all it needed.
   * Rows it could not publish get their lease lifted, to go first in the next round.
   */
  private async publishLeased(settling: PublishedRows): Promise<number[]> {
    const rows = ordered(
      await this.lease.rows(this.options.database.db, { limit: this.batchSize, lease: this.leaseInterval }),
    );
    if (rows.length === 0) return [];
    const published: number[] = [];
    try {
      for (const { position, envelope } of rows) {
        if (!settling.holds(envelope.id)) {
          settling.publishing(envelope.id, position);
          await this.options.bus.publish(envelope);
          settling.published(position);
        }
        published.push(position);
      }
    } catch (error) {
      const unsent = rows.slice(published.length);
      for (const row of unsent) settling.failed(row.envelope.id);
      await this.release
        .rows(this.options.database.db, { positions: unsent.map((row) => row.position) })
        .catch((releaseError: unknown) => {
          this.options.logger.warn(
            { err: releaseError },
            'could not lift the lease of unpublished events; the relay takes them when it lapses',
          );
        });
      throw error;
    }
    await this.options.afterPublish?.(rows.map((row) => row.envelope));
    return published;
  }

  private reported(round: RelayRound): void {
    for (const listener of this.listeners) {
      try {
        listener(round);
      } catch (error) {
        this.options.logger.error({ err: error }, 'relay round listener failed');
      }
    }
  }
}

/** RETURNING follows no order: commit order is the positions'. */
function ordered(rows: ClaimedRow[]): { position: number; envelope: EventEnvelope }[] {
  return rows
    .map((row) => ({ position: Number(row.position), envelope: row.envelope }))
    .sort((a, b) => a.position - b.position);
}
