import type { Bus, Subscription } from '@parley/bus';
import type { EventEnvelope, Logger } from '@parley/kernel';
import type { Database, Tx } from './database.ts';
import type { EventTables } from './outbox-tables.ts';

export interface IdempotentConsumerOptions {
  bus: Bus;
  database: Database;
  tables: Pick<EventTables, 'processedEvents' | 'deadLetters'>;
  /** Durable consumer group, also the key under which handled event ids are remembered. */
  group: string;
  subjects: string[];
  logger: Logger;
  maxDeliver?: number;
  backoffMs?: (attempt: number) => number;
  /** Runs inside the transaction that records the event as handled: both commit, or neither. */
  handle: (tx: Tx, event: EventEnvelope) => Promise<void>;
}

/**
 * Subscribes so that each event changes the consumer's data exactly once: the event id is recorded in the
 * same transaction as the handler's writes, a redelivered event finds it and is skipped, and an event
 * that keeps failing ends as a dead-letter row instead of blocking the group.
 */
export function subscribeIdempotent(options: IdempotentConsumerOptions): Promise<Subscription> {
  const { database, tables, group, logger } = options;
  return options.bus.subscribe({
    group,
    subjects: options.subjects,
    ...(options.maxDeliver ? { maxDeliver: options.maxDeliver } : {}),
    ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
    handler: async (event) => {
      await database.db.transaction(async (tx) => {
        const claimed = await tx
          .insert(tables.processedEvents)
          .values({ consumer: group, eventId: event.id })
          .onConflictDoNothing()
          .returning({ eventId: tables.processedEvents.eventId });
        if (claimed.length === 0) return;
        await options.handle(tx, event);
      });
    },
    onDeadLetter: async (event, error, attempts) => {
      logger.error(
        { err: error, eventId: event.id, type: event.type, group, attempts },
        'event dead-lettered',
      );
      await database.db.insert(tables.deadLetters).values({
        consumer: group,
        eventId: event.id,
        type: event.type,
        envelope: event,
        error: error instanceof Error ? error.message : String(error),
        attempts,
      });
    },
  });
}
