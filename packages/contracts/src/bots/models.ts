import { type Static, Type } from 'typebox';

export const BOT_KINDS = ['faq', 'llm'] as const;
export type BotKind = (typeof BOT_KINDS)[number];
export const BotKindSchema = Type.Union([Type.Literal('faq'), Type.Literal('llm')]);

/**
 * A bot's settings as the API shows them. `apiKey` is write-only: it never appears here, only whether one
 * is set. Callers below admin see an empty object (prompts and provider settings are the operator's).
 */
export const BotConfigView = Type.Object({
  baseUrl: Type.Optional(Type.String()),
  model: Type.Optional(Type.String()),
  systemPrompt: Type.Optional(Type.String()),
  temperature: Type.Optional(Type.Number()),
  maxTokens: Type.Optional(Type.Integer()),
  contextMessages: Type.Optional(Type.Integer()),
  hasApiKey: Type.Optional(Type.Boolean()),
  threshold: Type.Optional(Type.Number()),
});
export type BotConfigView = Static<typeof BotConfigView>;

export const BotSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    kind: BotKindSchema,
    active: Type.Boolean(),
    /** The bot that answers new support conversations first (at most one bot; none: the human queue). */
    support: Type.Boolean(),
    config: BotConfigView,
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Bot' },
);
export type Bot = Static<typeof BotSchema>;

export const KnowledgeDocumentSchema = Type.Object(
  {
    id: Type.String(),
    botId: Type.String(),
    title: Type.String(),
    content: Type.String(),
    /** How many passages retrieval split the document into. */
    passages: Type.Integer({ minimum: 0 }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'KnowledgeDocument' },
);
export type KnowledgeDocument = Static<typeof KnowledgeDocumentSchema>;

export const BotCommandSchema = Type.Object(
  {
    botId: Type.String(),
    name: Type.String(),
    description: Type.String(),
    reply: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'BotCommand' },
);
export type BotCommand = Static<typeof BotCommandSchema>;
