import { index, text, timestamp } from 'drizzle-orm/pg-core';
import { identitySchema } from './identity-schema.ts';
import { users } from './users.ts';

export type EmailTokenPurpose = 'verify_email' | 'reset_password';

/** Single-use tokens sent by mail, stored as SHA-256 hashes. */
export const emailTokens = identitySchema.table(
  'email_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').$type<EmailTokenPurpose>().notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [index('email_tokens_user_idx').on(table.userId, table.purpose)],
);
