import { index, text, timestamp } from 'drizzle-orm/pg-core';
import { identitySchema } from './identity-schema.ts';
import { sessions } from './sessions.ts';

/** Every refresh token a session has had, stored as a SHA-256 hash; the unspent one is the head. */
export const refreshTokens = identitySchema.table(
  'refresh_tokens',
  {
    id: text('id').primaryKey(),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    parentId: text('parent_id'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    spentAt: timestamp('spent_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [index('refresh_tokens_session_idx').on(table.sessionId)],
);

export type RefreshTokenRow = typeof refreshTokens.$inferSelect;
