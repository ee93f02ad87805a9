import type { Bus, Subscription, SubscriptionOptions } from '@parley/bus';
import type { EventEnvelope } from '@parley/kernel';
import { and, asc, eq, gt } from 'drizzle-orm';
import type { Database } from './database.ts';
import type { EventTables } from './outbox-tables.ts';

export interface DeadLetter {
  id: number;
  consumer: string;
  eventId: string;
  type: string;
  envelope: EventEnvelope;
  error: string;
  attempts: number;
  createdAt: Date;
}

export type ReplayOutcome =
  | { kind: 'replayed' }
  | { kind: 'missing' }
  /** No consumer of that name runs in this process (another service's, or one since renamed). */
  | { kind: 'no_consumer'; consumer: string }
  /** The consumer failed again: the row stays, with the new error and one more attempt. */
  | { kind: 'failed'; error: string };

/**
 * A service's dead letters, and the way out of them: once the cause is fixed (a bug deployed away, a
 * dependency back), an operator replays an event into the consumer that gave up on it, which handles it
 * as a delivery (consumers are idempotent, so an event some other way already got through changes
 * nothing), or discards it. Each consumer registers how it handles one event.
 */
export class DeadLetters {
  private readonly handlers = new Map<string, (event: EventEnvelope) => Promise<void>>();

  constructor(
    private readonly database: Database,
    private readonly table: EventTables['deadLetters'],
  ) {}

  /** What a consumer's dead-letter sink keeps of an event it gave up on. */
  async add(consumer: string, event: EventEnvelope, error: unknown, attempts: number): Promise<void> {
    await this.database.db.insert(this.table).values({
      consumer,
      eventId: event.id,
      type: event.type,
      envelope: event,
      error: messageOf(error),
      attempts,
    });
  }

  /** How `consumer` handles one delivery: what a replay runs. */
  handle(consumer: string, handler: (event: EventEnvelope) => Promise<void>): void {
    this.handlers.set(consumer, handler);
  }

  /**
   * Subscribes a consumer whose given-up events end here, replayable through the very handler the bus
   * runs (the bus logs each one as it gives up).
   */
  subscribe(
    bus: Bus,
    options: Omit<SubscriptionOptions, 'handler' | 'onDeadLetter'> & {
      handler: (event: EventEnvelope) => Promise<void>;
    },
  ): Promise<Subscription> {
    const { group, handler } = options;
    this.handle(group, handler);
    return bus.subscribe({
      ...options,
      onDeadLetter: (event, error, attempts) => this.add(group, event, error, attempts),
    });
  }

  /** Oldest first, after `afterId` (paging), optionally one consumer's. */
  async list(options: { consumer?: string; afterId?: number; limit: number }): Promise<DeadLetter[]> {
    const { table } = this;
    const conditions = [gt(table.id, options.afterId ?? 0)];
    if (options.consumer !== undefined) conditions.push(eq(table.consumer, options.consumer));
    return this.database.db
      .select()
      .from(table)
      .where(and(...conditions))
      .orderBy(asc(table.id))
      .limit(options.limit);
  }

  async replay(id: number): Promise<ReplayOutcome> {
    const { table } = this;
    const [row] = await this.database.db.select().from(table).where(eq(table.id, id));
    if (!row) return { kind: 'missing' };
    const handler = this.handlers.get(row.consumer);
    if (!handler) return { kind: 'no_consumer', consumer: row.consumer };
    try {
      await handler(row.envelope);
    } catch (error) {
      const message = messageOf(error);
      await this.database.db
        .update(table)
        .set({ error: message, attempts: row.attempts + 1 })
        .where(eq(table.id, id));
      return { kind: 'failed', error: message };
    }
    await this.discard(id);
    return { kind: 'replayed' };
  }

  /** Whether there was such a row. */
  async discard(id: number): Promise<boolean> {
    const deleted = await this.database.db
      .delete(this.table)
      .where(eq(this.table.id, id))
      .returning({ id: this.table.id });
    return deleted.length > 0;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
