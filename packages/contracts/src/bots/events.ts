import { type Static, Type } from 'typebox';
import { BotKindSchema } from './models.ts';

/** Durable bots facts, published through the bots outbox (console analytics, chat's bot directory). */
export const BotsEvents = {
  botCreated: 'bots.bot.created',
  botUpdated: 'bots.bot.updated',
  botDeleted: 'bots.bot.deleted',
  replyCompleted: 'bots.reply.completed',
} as const;

/** What other services may know of a bot: never its prompt, provider settings or key. */
export const BotSnapshot = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  kind: BotKindSchema,
  active: Type.Boolean(),
  /** Answers new support conversations first (chat keeps a directory of bots from these events). */
  support: Type.Boolean(),
});
export type BotSnapshot = Static<typeof BotSnapshot>;

export const BotEventData = Type.Object({ bot: BotSnapshot });
export type BotEventData = Static<typeof BotEventData>;

export const BotDeletedData = Type.Object({ botId: Type.String() });
export type BotDeletedData = Static<typeof BotDeletedData>;

export const REPLY_OUTCOMES = [
  'answered',
  'unknown',
  'command',
  'handoff',
  'quota',
  'failed',
  'cancelled',
] as const;
export type ReplyOutcome = (typeof REPLY_OUTCOMES)[number];

/**
 * One user message answered (or not): `answered` by the provider or the knowledge base, `unknown` when
 * the knowledge base had nothing confident, `command`, `handoff`, `quota` (daily tokens spent), `failed`
 * (the provider failed: the user got a notice), `cancelled` (the conversation closed or was handed off
 * while streaming). Token counts and cost are zero when no LLM was asked.
 */
export const ReplyCompletedData = Type.Object({
  botId: Type.String(),
  conversationId: Type.String(),
  userId: Type.String(),
  triggerMessageId: Type.String(),
  replyMessageId: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.Union([
    Type.Literal('answered'),
    Type.Literal('unknown'),
    Type.Literal('command'),
    Type.Literal('handoff'),
    Type.Literal('quota'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
  ]),
  model: Type.Union([Type.String(), Type.Null()]),
  promptTokens: Type.Integer({ minimum: 0 }),
  completionTokens: Type.Integer({ minimum: 0 }),
  costUsd: Type.Number({ minimum: 0 }),
  /** From the user's message reaching the bot to its first streamed token; null when nothing streamed. */
  firstTokenMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  durationMs: Type.Integer({ minimum: 0 }),
});
export type ReplyCompletedData = Static<typeof ReplyCompletedData>;
