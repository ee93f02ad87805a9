import { jsonb, text, timestamp } from 'drizzle-orm/pg-core';
import type { JWK } from 'jose';
import { identitySchema } from './identity-schema.ts';

/** Token signing keys when identity runs distributed (DATABASE_URL); embedded installs keep them in a file. */
export const signingKeys = identitySchema.table('signing_keys', {
  kid: text('kid').primaryKey(),
  privateJwk: jsonb('private_jwk').$type<JWK>().notNull(),
  publicJwk: jsonb('public_jwk').$type<JWK>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  /** Set when a newer key took over; the public key stays published until its tokens have expired. */
  retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
});
