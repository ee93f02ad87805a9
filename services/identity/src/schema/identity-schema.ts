import { eventTables } from '@parley/store';
import { pgSchema } from 'drizzle-orm/pg-core';

/** Identity's own Postgres schema: no other service reads these tables. */
export const identitySchema = pgSchema('identity');
export const { outbox, processedEvents, deadLetters } = eventTables(identitySchema);
