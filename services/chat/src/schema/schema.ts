import { eventTables } from '@parley/store';
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  unique,
} from 'drizzle-orm/pg-core';
import type { LastMessage, StoredAttachment } from '../domain/types.ts';

/** Everything chat owns lives in its own schema; no other service reads it. */
export const chatSchema = pgSchema('chat');
export const { outbox, processedEvents, deadLetters } = eventTables(chatSchema);

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/**
 * Read model of the bots service's bots, fed by `bots.bot.*` events: which bot answers new support
 * conversations. `changedAt` is the applied event's time, so a late, older event changes nothing.
 */
export const bots = chatSchema.table('bots', {
  id: text('id').primaryKey(),
  active: boolean('active').notNull(),
  support: boolean('support').notNull(),
  deleted: boolean('deleted').notNull().default(false),
  changedAt: timestamp('changed_at', { withTimezone: true, precision: 3 }).notNull(),
});

/**
 * Read model of identity's accounts, fed by `identity.user.*` events: chat never reads identity's tables.
 * `revision` is the identity change the row reflects (0: only events from before identity numbered its
 * changes): an event with a smaller one arrived late and changes nothing. A deactivation or deletion that
 * arrives before the account's registration leaves a row with no profile (display name and role null) so
 * the older registration cannot make the account active; `deleted` is final, whatever arrives after it.
 */
export const users = chatSchema.table('users', {
  id: text('id').primaryKey(),
  displayName: text('display_name'),
  role: text('role').$type<'user' | 'agent' | 'manager' | 'admin'>(),
  active: boolean('active').notNull().default(true),
  deleted: boolean('deleted').notNull().default(false),
  revision: bigint('revision', { mode: 'number' }).notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Read model of `identity.block.*`: the blocker does not want messages from the blocked. An unblock keeps
 * the row as a tombstone (`removed`) with its `revision`, so a late, older `block.created` cannot bring the
 * block back: every reader of blocks counts only rows that are not removed.
 */
export const blocks = chatSchema.table(
  'blocks',
  {
    blockerId: text('blocker_id').notNull(),
    blockedId: text('blocked_id').notNull(),
    removed: boolean('removed').notNull().default(false),
    revision: bigint('revision', { mode: 'number' }).notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.blockerId, table.blockedId] }),
    index('blocks_blocked_idx').on(table.blockedId),
  ],
);

export const conversations = chatSchema.table(
  'conversations',
  {
    id: text('id').primaryKey(),
    type: text('type').$type<'direct' | 'group' | 'bot' | 'support'>().notNull(),
    title: text('title'),
    createdBy: text('created_by').notNull(),
    botId: text('bot_id'),
    status: text('status').$type<'open' | 'pending' | 'resolved' | 'closed'>().notNull(),
    assigneeId: text('assignee_id'),
    handledBy: text('handled_by').$type<'bot' | 'human'>(),
    /** `<smaller user id>:<larger user id>` for direct conversations: one per pair, enforced here. */
    directKey: text('direct_key').unique(),
    /** The per-conversation message counter; its row lock serializes seq assignment. */
    lastSeq: integer('last_seq').notNull().default(0),
    lastMessage: jsonb('last_message').$type<LastMessage>(),
    // Millisecond precision so a JavaScript Date taken from it round-trips exactly in list cursors.
    lastActivityAt: timestamp('last_activity_at', { withTimezone: true, precision: 3 })
      .notNull()
      .defaultNow(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('conversations_activity_idx').on(table.lastActivityAt.desc(), table.id.desc())],
);

export const members = chatSchema.table(
  'members',
  {
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    role: text('role').$type<'owner' | 'member' | 'agent'>().notNull(),
    /** Receipt high-water marks: the member has received / read every message up to this seq. */
    deliveredSeq: integer('delivered_seq').notNull().default(0),
    readSeq: integer('read_seq').notNull().default(0),
    joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.conversationId, table.userId] }),
    index('members_user_idx').on(table.userId),
  ],
);

export const messages = chatSchema.table(
  'messages',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    senderId: text('sender_id').notNull(),
    senderType: text('sender_type').$type<'user' | 'bot' | 'agent' | 'system'>().notNull(),
    type: text('type').$type<'text' | 'image' | 'file' | 'system'>().notNull(),
    body: text('body').notNull(),
    attachments: jsonb('attachments').$type<StoredAttachment[]>().notNull().default([]),
    clientMessageId: text('client_message_id'),
    createdAt: createdAt(),
    editedAt: timestamp('edited_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    /** Global change revision of the last edit or delete: what `sync` compares its token against. */
    revision: bigint('revision', { mode: 'number' }),
  },
  (table) => [
    unique('messages_conversation_seq_key').on(table.conversationId, table.seq),
    unique('messages_sender_client_id_key').on(table.senderId, table.clientMessageId),
    index('messages_revision_idx').on(table.revision).where(sql`revision is not null`),
    index('messages_body_fts_idx').using('gin', sql`to_tsvector('simple', ${table.body})`),
  ],
);

export const attachments = chatSchema.table('attachments', {
  id: text('id').primaryKey(),
  uploaderId: text('uploader_id').notNull(),
  name: text('name').notNull(),
  mimeType: text('mime_type').notNull(),
  size: bigint('size', { mode: 'number' }).notNull(),
  storageKey: text('storage_key').notNull(),
  createdAt: createdAt(),
});

/** Which conversations an attachment was sent to: their members may download it. */
export const messageAttachments = chatSchema.table(
  'message_attachments',
  {
    attachmentId: text('attachment_id')
      .notNull()
      .references(() => attachments.id, { onDelete: 'cascade' }),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
  },
  (table) => [
    primaryKey({ columns: [table.attachmentId, table.messageId] }),
    index('message_attachments_conversation_idx').on(table.conversationId),
  ],
);

/**
 * One row holding the global change revision. Edits and deletes take its row lock, so revisions commit in
 * order and a sync token never skips a change committed later with a smaller revision.
 */
export const syncState = chatSchema.table('sync_state', {
  id: integer('id').primaryKey(),
  revision: bigint('revision', { mode: 'number' }).notNull(),
});
