import type { PublishableEvent } from '@parley/bus';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { getTableConfig } from 'drizzle-orm/pg-core';
import type { Database, Executor, Tx } from './database.ts';
import type { EventTables } from './outbox-tables.ts';
import { PreparedQuery } from './prepared-query.ts';

/** An outbox row whose transaction committed, for its writer to publish. */
export interface CommittedEvent {
  position: number;
  /** As the outbox row holds it; already serialized when its writer has the JSON (chat's send statement). */
  envelope: PublishableEvent;
}

/** Publishes rows its own process just committed (the relay's direct path); must not throw. */
export interface CommitPublisher {
  publishCommitted(events: CommittedEvent[]): void;
  /** How long a row written for it stays away from every relay: time enough to publish it. */
  readonly leaseMs: number;
}

/**
 * Writes domain events in the same transaction as the change they describe. With a publisher attached
 * (publishOnCommit), rows written in `transaction` carry a lease and are handed to it once committed:
 * the bus has them without waiting for a relay round, and if the process dies first, any relay publishes
 * them when the lease lapses. Other rows wait for the relay, which `committed()` nudges.
 */
export class Outbox {
  private readonly listeners = new Set<() => void>();
  private publisher: CommitPublisher | undefined;
  /** The rows each open `transaction` wrote for the publisher. */
  private readonly written = new WeakMap<Executor, CommittedEvent[]>();
  private readonly liftLeases: PreparedQuery<never>;

  constructor(
    private readonly database: Database,
    private readonly tables: Pick<EventTables, 'outbox'>,
    private readonly logger?: Logger,
  ) {
    const { outbox } = tables;
    this.liftLeases = new PreparedQuery(
      `${getTableConfig(outbox).schema ?? 'public'}_outbox_lift_leases`,
      sql`update ${outbox} set ${sql.identifier(outbox.leaseUntil.name)} = null
        where ${outbox.position} = any (${sql.placeholder('positions')}::bigint[])`,
    );
  }

  publishOnCommit(publisher: CommitPublisher | undefined): void {
    this.publisher = publisher;
  }

  /** The lease for rows written now by means other than `add` (one statement writing its own events). */
  get leaseMs(): number | undefined {
    return this.publisher?.leaseMs;
  }

  async add(executor: Executor, ...events: EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    const values = events.map((envelope) => ({ eventId: envelope.id, type: envelope.type, envelope }));
    const written = this.publisher ? this.written.get(executor) : undefined;
    if (!written || !this.publisher) {
      await executor.insert(this.tables.outbox).values(values);
      return;
    }
    const leaseUntil = sql`now() + ${`${this.publisher.leaseMs} milliseconds`}::interval`;
    const rows = await executor
      .insert(this.tables.outbox)
      .values(values.map((value) => ({ ...value, leaseUntil })))
      .returning({ position: this.tables.outbox.position, envelope: this.tables.outbox.envelope });
    written.push(...rows);
  }

  /** Runs `work` in a transaction; once it has committed, its events go to the publisher or the relay. */
  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const written: CommittedEvent[] = [];
    const result = await this.database.db.transaction((tx) => {
      this.written.set(tx, written);
      return work(tx);
    });
    if (written.length > 0) this.published(written);
    else this.committed();
    return result;
  }

  /** Rows written with `leaseMs` have committed: hands them to the publisher (the relay if it is gone). */
  published(events: CommittedEvent[]): void {
    if (this.publisher) this.publisher.publishCommitted(events);
    else void this.handBack(events.map((event) => event.position));
  }

  /**
   * Leased rows that will not be published directly (publishing failed, or the publisher was detached at
   * shutdown) go to the relay at once; if even that fails, when their lease lapses.
   */
  async handBack(positions: number[]): Promise<void> {
    try {
      await this.liftLeases.rows(this.database.db, { positions });
    } catch (error) {
      this.logger?.warn(
        { err: error },
        'could not lift the lease of unpublished events; the relay takes them when it lapses',
      );
    }
    this.committed();
  }

  /** Rows without a lease have committed: wakes the relay. */
  committed(): void {
    for (const listener of this.listeners) listener();
  }

  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
