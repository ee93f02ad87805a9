import { eventTables } from '@parley/store';
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/** Everything the bots service owns lives in its own schema; no other service reads it. */
export const botsSchema = pgSchema('bots');
export const { outbox, processedEvents, deadLetters } = eventTables(botsSchema);

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
/** Millisecond precision: list cursors carry a JavaScript Date, which must round-trip exactly. */
const listedAt = () => timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow();

/** The settings an admin gives a bot, minus the API key (sealed separately). */
export interface StoredBotConfig {
  baseUrl?: string;
  model?: string;
  systemPrompt?: string;
  temperature?: number;
  maxTokens?: number;
  contextMessages?: number;
  threshold?: number;
}

export const bots = botsSchema.table(
  'bots',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    kind: text('kind').$type<'faq' | 'llm'>().notNull(),
    active: boolean('active').notNull().default(true),
    /** Answers new support conversations first; at most one bot has it (the partial unique index). */
    support: boolean('support').notNull().default(false),
    config: jsonb('config').$type<StoredBotConfig>().notNull().default({}),
    /** The provider API key sealed with AES-256-GCM (see secret-box.ts); never leaves the service. */
    apiKeySealed: text('api_key_sealed'),
    /** Bumped on every knowledge change, so cached indexes in every process know they are stale. */
    knowledgeVersion: integer('knowledge_version').notNull().default(0),
    createdAt: listedAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // Names are how OpenAI clients pick a bot (`model`), so they must be unambiguous.
  (table) => [
    uniqueIndex('bots_name_idx').on(sql`lower(${table.name})`),
    uniqueIndex('bots_support_idx').on(table.support).where(sql`${table.support}`),
    index('bots_created_idx').on(table.createdAt, table.id),
  ],
);

export const knowledgeDocuments = botsSchema.table(
  'knowledge_documents',
  {
    id: text('id').primaryKey(),
    botId: text('bot_id')
      .notNull()
      .references(() => bots.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    content: text('content').notNull(),
    passages: integer('passages').notNull(),
    createdAt: listedAt(),
  },
  (table) => [index('knowledge_bot_idx').on(table.botId, table.createdAt, table.id)],
);

export const commands = botsSchema.table(
  'commands',
  {
    botId: text('bot_id')
      .notNull()
      .references(() => bots.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    reply: text('reply').notNull(),
    createdAt: createdAt(),
  },
  (table) => [primaryKey({ columns: [table.botId, table.name] })],
);

export type ReplyState = 'running' | 'done';

/**
 * One row per user message a bot answers, keyed by that message: claiming it is what makes the reply
 * happen once across processes and redeliveries. A process that dies mid-reply leaves a lapsed lease that
 * another process picks up.
 */
export const replies = botsSchema.table(
  'replies',
  {
    triggerMessageId: text('trigger_message_id').primaryKey(),
    conversationId: text('conversation_id').notNull(),
    triggerSeq: integer('trigger_seq').notNull(),
    botId: text('bot_id').notNull(),
    userId: text('user_id').notNull(),
    state: text('state').$type<ReplyState>().notNull(),
    attempts: integer('attempts').notNull().default(1),
    leaseUntil: timestamp('lease_until', { withTimezone: true }).notNull(),
    outcome: text('outcome'),
    replyMessageId: text('reply_message_id'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('replies_lease_idx').on(table.leaseUntil).where(sql`state = 'running'`)],
);

/**
 * The bot-facing conversations' recent messages, fed by `chat.message.created`: what the prompt's context
 * is built from without asking chat. Only the last few hundred per conversation are kept.
 */
export const transcript = botsSchema.table(
  'transcript',
  {
    conversationId: text('conversation_id').notNull(),
    seq: integer('seq').notNull(),
    messageId: text('message_id').notNull(),
    senderType: text('sender_type').$type<'user' | 'bot' | 'agent' | 'system'>().notNull(),
    body: text('body').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.conversationId, table.seq] })],
);

/** `/reset`: messages up to this seq are no longer context. */
export const contextResets = botsSchema.table('context_resets', {
  conversationId: text('conversation_id').primaryKey(),
  afterSeq: integer('after_seq').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** LLM tokens spent, summed per UTC day, user, bot and model; the quota reads it too. */
export const usage = botsSchema.table(
  'usage',
  {
    day: date('day', { mode: 'string' }).notNull(),
    userId: text('user_id').notNull(),
    botId: text('bot_id').notNull(),
    model: text('model').notNull(),
    requests: integer('requests').notNull().default(0),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull().default(0),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.day, table.userId, table.botId, table.model] }),
    index('usage_user_day_idx').on(table.userId, table.day),
  ],
);

/**
 * Tokens set aside against a user's daily quota while a provider call is under way, so that calls running
 * side by side cannot all pass the check (see UsageRepository.reserve). Each is deleted when its call ends
 * (replaced by the usage it recorded); one whose process died stops counting at `expires_at`.
 */
export const quotaReservations = botsSchema.table(
  'quota_reservations',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    tokens: bigint('tokens', { mode: 'number' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (table) => [index('quota_reservations_user_day_idx').on(table.userId, table.day)],
);

/** One-time start-up work already done (the default bot), so deleting its result sticks. */
export const seeds = botsSchema.table('seeds', {
  name: text('name').primaryKey(),
  appliedAt: timestamp('applied_at', { withTimezone: true }).notNull().defaultNow(),
});
