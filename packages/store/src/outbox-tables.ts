import type { EventEnvelope } from '@parley/kernel';
import {
  bigserial,
  index,
  integer,
  jsonb,
  type PgSchema,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

/**
 * The event tables every service keeps in its own schema: the outbox it publishes from, the event ids
 * its consumers have handled, and the events they gave up on. Call this from the service's schema file
 * so drizzle-kit puts them in that service's migrations.
 */
export function eventTables(schema: PgSchema) {
  const outbox = schema.table(
    'outbox',
    {
      position: bigserial('position', { mode: 'number' }).primaryKey(),
      eventId: text('event_id').notNull().unique(),
      type: text('type').notNull(),
      envelope: jsonb('envelope').$type<EventEnvelope>().notNull(),
      createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
      publishedAt: timestamp('published_at', { withTimezone: true }),
      /**
       * Set when the writing process publishes the row itself right after commit (Outbox.publishOnCommit):
       * until then no relay takes it, and after it any relay does (its writer died before publishing).
       */
      leaseUntil: timestamp('lease_until', { withTimezone: true }),
    },
    // No index beyond the key: every row is unpublished (a published row is deleted), so an index of
    // unpublished positions was the primary key again, written once more per event.
  );

  const processedEvents = schema.table(
    'processed_events',
    {
      consumer: text('consumer').notNull(),
      eventId: text('event_id').notNull(),
      processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (table) => [
      primaryKey({ columns: [table.consumer, table.eventId] }),
      // For the periodic delete of ids no longer needed (subscribeIdempotent), which walks one consumer's
      // oldest rows; without it every prune would scan the consumer's whole history.
      index('processed_events_processed_at_idx').on(table.consumer, table.processedAt),
    ],
  );

  const deadLetters = schema.table('dead_letters', {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    consumer: text('consumer').notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    envelope: jsonb('envelope').$type<EventEnvelope>().notNull(),
    error: text('error').notNull(),
    attempts: integer('attempts').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  });

  return { outbox, processedEvents, deadLetters };
}

export type EventTables = ReturnType<typeof eventTables>;
