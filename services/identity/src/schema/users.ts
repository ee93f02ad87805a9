import { sql } from 'drizzle-orm';
import { boolean, index, jsonb, text, timestamp } from 'drizzle-orm/pg-core';
import { identitySchema } from './identity-schema.ts';

export type UserRole = 'user' | 'agent' | 'manager' | 'admin';
/** Flat preferences of the web client (bounded by the route schema). */
export type UserSettings = Record<string, string | number | boolean | null>;

export const users = identitySchema.table(
  'users',
  {
    id: text('id').primaryKey(),
    /** Normalized to lower case before it gets here, so the unique index is case-insensitive. */
    email: text('email').notNull().unique(),
    displayName: text('display_name').notNull(),
    role: text('role').$type<UserRole>().notNull().default('user'),
    passwordHash: text('password_hash').notNull(),
    emailVerified: boolean('email_verified').notNull().default(false),
    active: boolean('active').notNull().default(true),
    avatarUrl: text('avatar_url'),
    bio: text('bio'),
    settings: jsonb('settings').$type<UserSettings>().notNull().default({}),
    /** Tokens issued before this instant are no longer honoured (deactivation, role change, reset). */
    tokensValidAfter: timestamp('tokens_valid_after', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    index('users_email_prefix_idx').on(table.email.op('text_pattern_ops')),
    index('users_display_name_prefix_idx').using('btree', sql`lower(${table.displayName}) text_pattern_ops`),
    index('users_role_idx').on(table.role),
  ],
);

export type UserRow = typeof users.$inferSelect;
