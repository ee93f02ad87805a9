import { type Static, Type } from 'typebox';
import { PageQuery } from '../common.ts';
import { BotKindSchema } from './models.ts';

/** Stored trimmed, so it must hold more than spaces. */
const Name = Type.String({ minLength: 1, maxLength: 80, pattern: '\\S' });
const Description = Type.String({ maxLength: 500 });

/**
 * Settings for both kinds: `baseUrl`, `model`, `apiKey`, `temperature`, `maxTokens` only mean something to
 * `llm` bots (the service refuses them on `faq` bots); `threshold` is the retrieval confidence below which
 * a bot says it does not know. `apiKey: null` (or `baseUrl: null`) clears the value.
 */
export const BotConfigInput = Type.Object(
  {
    baseUrl: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 2000 }), Type.Null()])),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    apiKey: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 1000 }), Type.Null()])),
    systemPrompt: Type.Optional(Type.String({ maxLength: 20_000 })),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
    maxTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 131_072 })),
    contextMessages: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);
export type BotConfigInput = Static<typeof BotConfigInput>;

export const CreateBotBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    kind: BotKindSchema,
    active: Type.Optional(Type.Boolean()),
    /** Answers new support conversations first; setting it on one bot takes it from the one that had it. */
    support: Type.Optional(Type.Boolean()),
    config: Type.Optional(BotConfigInput),
  },
  { additionalProperties: false },
);
export type CreateBotBody = Static<typeof CreateBotBody>;

export const UpdateBotBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    active: Type.Optional(Type.Boolean()),
    /** Answers new support conversations first; setting it on one bot takes it from the one that had it. */
    support: Type.Optional(Type.Boolean()),
    config: Type.Optional(BotConfigInput),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateBotBody = Static<typeof UpdateBotBody>;

export const ListBotsQuery = Type.Object(
  {
    ...PageQuery,
    /** Admins only: list inactive bots too. */
    includeInactive: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ListBotsQuery = Static<typeof ListBotsQuery>;

export const AddKnowledgeBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    content: Type.String({ minLength: 1, maxLength: 200_000 }),
  },
  { additionalProperties: false },
);
export type AddKnowledgeBody = Static<typeof AddKnowledgeBody>;

export const ListKnowledgeQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
export type ListKnowledgeQuery = Static<typeof ListKnowledgeQuery>;

/**
 * A custom command: `/name` answers with `reply`, a template where `{{bot.name}}`, `{{args}}`,
 * `{{user.id}}`, `{{date}}` and `{{time}}` are filled in (UTC).
 */
export const CreateCommandBody = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    reply: Type.String({ minLength: 1, maxLength: 4000 }),
  },
  { additionalProperties: false },
);
export type CreateCommandBody = Static<typeof CreateCommandBody>;
