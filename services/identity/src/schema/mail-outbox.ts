import { bigserial, integer, jsonb, text, timestamp } from 'drizzle-orm/pg-core';
import { identitySchema } from './identity-schema.ts';

export interface MailPayload {
  to: string;
  subject: string;
  text: string;
}

/**
 * Mails to send, written in the transaction that created their token and sent after commit by the mail
 * relay; a row is deleted once sent, so the link (and its token) does not stay at rest.
 */
export const mailOutbox = identitySchema.table('mail_outbox', {
  position: bigserial('position', { mode: 'number' }).primaryKey(),
  payload: jsonb('payload').$type<MailPayload>().notNull(),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
