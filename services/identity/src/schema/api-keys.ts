import { index, text, timestamp } from 'drizzle-orm/pg-core';
import { identitySchema } from './identity-schema.ts';
import { users } from './users.ts';

export const apiKeys = identitySchema.table(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** SHA-256 of the whole key: keys carry 256 random bits, so a fast hash is enough and lookups are exact. */
    keyHash: text('key_hash').notNull().unique(),
    /** The first characters of the key, shown in lists so people can tell their keys apart. */
    keyPrefix: text('key_prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [index('api_keys_user_idx').on(table.userId)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
