import type { Bus } from '@parley/bus';
import type { Logger } from '@parley/kernel';
import type { Database } from './database.ts';
import { DirectPublisher } from './direct-publisher.ts';
import type { Outbox } from './outbox.ts';
import { OutboxRelay } from './outbox-relay.ts';
import type { EventTables } from './outbox-tables.ts';

export interface OutboxPublishingOptions {
  outbox: Outbox;
  database: Database;
  tables: Pick<EventTables, 'outbox'>;
  bus: Bus;
  logger: Logger;
  /** How often the relay looks for events committed by other processes (or left by dead ones). */
  pollMs?: number;
  /**
   * How long a row stays with the process that took it (default 30 s): the direct path's lease after a
   * commit, and on the in-process bus the relay's while its event settles. A crash delays events by this.
   */
  leaseMs?: number;
}

/**
 * A service's events on their way out: what this process commits is published from here at once
 * (DirectPublisher); the relay takes the rest from the outbox (rows without a lease, handed back, or
 * left by a dead process). Started when the service is ready, stopped in the order that leaves nothing.
 */
export class OutboxPublishing {
  private readonly relay: OutboxRelay;
  private readonly direct: DirectPublisher;

  constructor(private readonly options: OutboxPublishingOptions) {
    const { outbox, database, tables, bus, logger, pollMs, leaseMs } = options;
    this.relay = new OutboxRelay({ database, tables, bus, logger, pollMs, leaseMs });
    this.direct = new DirectPublisher({ database, tables, bus, logger, outbox, relay: this.relay, leaseMs });
  }

  /** Rows without a lease have committed: the relay looks at once. */
  wakeRelay(): void {
    this.relay.wake();
  }

  /**
   * Before {@link start}, in a process that is the only one using its database: what a crash left leased
   * is published at once rather than when its lease lapses (OutboxRelay.liftLeases).
   */
  async liftOrphanedLeases(): Promise<void> {
    const lifted = await this.relay.liftLeases();
    if (lifted > 0) this.options.logger.info({ events: lifted }, 'publishing the events a crash left leased');
  }

  start(): void {
    this.relay.start();
    this.options.outbox.publishOnCommit(this.direct);
  }

  /** New commits go to the relay, what was handed to the direct path is published, then the relay drains. */
  async stop(): Promise<void> {
    this.options.outbox.publishOnCommit(undefined);
    await this.direct.stop();
    await this.relay.stop();
  }
}
