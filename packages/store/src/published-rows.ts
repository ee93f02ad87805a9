import type { Bus, VolatileEvents } from '@parley/bus';
import type { Logger } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { getTableConfig } from 'drizzle-orm/pg-core';
import type { Database } from './database.ts';
import type { EventTables } from './outbox-tables.ts';
import { PreparedQuery } from './prepared-query.ts';

export interface PublishedRowsOptions {
  database: Database;
  tables: Pick<EventTables, 'outbox'>;
  bus: Bus;
  logger: Logger;
  /** Rows are deleted together, at most this often (default 50 ms). */
  deleteEveryMs?: number;
}

/**
 * Deletes the outbox rows of published events once the bus has the events for good, several rows per
 * statement. A bus that persists what it takes (JetStream) has an event for good when `publish` resolves.
 * The in-process bus keeps events only in this process's memory (`volatileEvents`): there the row, under
 * its lease, stays the event's one durable copy until every group subscribed at publish time has
 * acknowledged or dead-lettered it, so a crash or a stop before that leaves it for the relay of the next
 * start instead of losing the event.
 */
export class PublishedRows {
  private readonly volatile: VolatileEvents | undefined;
  /** On the in-process bus: event id → its row's position, from just before its publish until it settles. */
  private readonly unsettled = new Map<string, number>();
  private stopListening: (() => void) | undefined;
  private readonly due: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private deleting: Promise<void> = Promise.resolve();
  private readonly deleteEveryMs: number;
  private readonly remove: PreparedQuery<never>;

  constructor(private readonly options: PublishedRowsOptions) {
    this.volatile = options.bus.volatileEvents;
    this.deleteEveryMs = options.deleteEveryMs ?? 50;
    const { outbox } = options.tables;
    this.remove = new PreparedQuery(
      `${getTableConfig(outbox).schema ?? 'public'}_outbox_remove`,
      sql`delete from ${outbox} where ${outbox.position} = any (${sql.placeholder('positions')}::bigint[])`,
    );
  }

  /** Call right before publishing a row's event: on the in-process bus it may settle within `publish`. */
  publishing(eventId: string, position: number): void {
    if (!this.volatile) return;
    this.stopListening ??= this.volatile.onSettled((id) => this.settled(id));
    this.unsettled.set(eventId, position);
  }

  /** Its publish resolved: the row goes now, or once the event has settled. */
  published(position: number): void {
    if (!this.volatile) this.delete(position);
  }

  /** Its publish failed: the row stays, for the relay. */
  failed(eventId: string): void {
    this.unsettled.delete(eventId);
  }

  /**
   * Whether the bus still holds the event from an earlier publish in this process (it is waiting, retrying
   * or being handled): publishing it again would only hand its handlers a duplicate.
   */
  holds(eventId: string): boolean {
    return this.volatile?.holds(eventId) ?? false;
  }

  /**
   * Deletes the rows that are due and stops listening. Rows of events the bus still holds stay, under
   * their lease: if the bus loses those events (it closes next), the relay of the next start has them.
   */
  async stop(): Promise<void> {
    this.stopListening?.();
    this.stopListening = undefined;
    this.unsettled.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.deleting;
    await this.deleteDue();
  }

  private settled(eventId: string): void {
    const position = this.unsettled.get(eventId);
    if (position === undefined) return;
    this.unsettled.delete(eventId);
    this.delete(position);
  }

  private delete(position: number): void {
    this.due.push(position);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.deleting = this.deleteDue();
    }, this.deleteEveryMs);
  }

  private async deleteDue(): Promise<void> {
    const positions = this.due.splice(0);
    if (positions.length === 0) return;
    try {
      await this.remove.rows(this.options.database.db, { positions });
    } catch (error) {
      // Left in place, they are published again when their lease lapses: a duplicate, never a loss.
      this.options.logger.warn({ err: error }, 'could not delete published outbox rows');
    }
  }
}
