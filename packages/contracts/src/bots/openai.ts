import { type Static, type TSchema, Type } from 'typebox';

/**
 * The subset of OpenAI's chat-completions request a Parley bot honours. Fields OpenAI tools commonly send
 * are accepted (and the harmless ones ignored); anything else is refused like any unknown field.
 */
const TextPart = Type.Object(
  { type: Type.Literal('text'), text: Type.String({ maxLength: 200_000 }) },
  { additionalProperties: false },
);
export const OpenAiChatMessage = Type.Object(
  {
    role: Type.Union([
      Type.Literal('system'),
      Type.Literal('developer'),
      Type.Literal('user'),
      Type.Literal('assistant'),
    ]),
    content: Type.Union([
      Type.String({ maxLength: 200_000 }),
      Type.Array(TextPart, { maxItems: 100 }),
      Type.Null(),
    ]),
    name: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
export type OpenAiChatMessage = Static<typeof OpenAiChatMessage>;

const Nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

export const ChatCompletionRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    messages: Type.Array(OpenAiChatMessage, { minItems: 1, maxItems: 500 }),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([
        Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        Type.Null(),
      ]),
    ),
    temperature: Nullable(Type.Number({ minimum: 0, maximum: 2 })),
    top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
    max_tokens: Nullable(Type.Integer({ minimum: 1, maximum: 131_072 })),
    max_completion_tokens: Nullable(Type.Integer({ minimum: 1, maximum: 131_072 })),
    n: Type.Optional(Type.Union([Type.Literal(1), Type.Null()])),
    stop: Type.Optional(
      // Up to four sequences, as OpenAI takes them.
      Type.Union([
        Type.String({ maxLength: 100 }),
        Type.Array(Type.String({ maxLength: 100 }), { maxItems: 4 }),
        Type.Null(),
      ]),
    ),
    presence_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
    frequency_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
    seed: Nullable(Type.Integer()),
    user: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;

const Usage = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
});

export const ChatCompletionResponse = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      message: Type.Object({ role: Type.Literal('assistant'), content: Type.String() }),
      finish_reason: Type.String(),
    }),
  ),
  usage: Usage,
});
export type ChatCompletionResponse = Static<typeof ChatCompletionResponse>;

export const OpenAiModel = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
  /** Parley's additions: the bot behind the model id. */
  name: Type.String(),
  description: Type.String(),
  kind: Type.String(),
});

export const OpenAiModelList = Type.Object({ object: Type.Literal('list'), data: Type.Array(OpenAiModel) });
export type OpenAiModelList = Static<typeof OpenAiModelList>;
