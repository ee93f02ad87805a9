import { type Static, Type } from 'typebox';
import { PageQuery } from '../common.ts';
import {
  ConversationStatusSchema,
  ConversationTypeSchema,
  HandledBySchema,
  MessageTypeSchema,
} from './models.ts';

const Id = Type.String({ minLength: 1, maxLength: 64 });
/** The largest seq there can be: a stored seq is a 32-bit integer. */
export const SEQ_MAX = 2_147_483_647;
/** A seq as a client may name it: a larger one than any stored seq is a malformed request. */
export const SeqInput = (minimum: 0 | 1) => Type.Integer({ minimum, maximum: SEQ_MAX });
/** Client-chosen id that makes a send idempotent: retries with the same value return the original. */
export const ClientMessageId = Type.String({ minLength: 1, maxLength: 128 });
export const AttachmentIds = Type.Array(Id, { maxItems: 10, uniqueItems: true });
/** The byte limit is configurable (PARLEY_MESSAGE_MAX_BYTES) and checked by the service: 413 beyond it. */
export const MessageBody = Type.String({ maxLength: 1024 * 1024 });

export const CreateConversationBody = Type.Object(
  {
    type: ConversationTypeSchema,
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    memberIds: Type.Optional(Type.Array(Id, { maxItems: 1000, uniqueItems: true })),
    botId: Type.Optional(Id),
    systemMessage: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4000,
        description:
          'A notice (type system) opening the conversation, attributed to its creator. In direct and group conversations only staff may set one (403 otherwise).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateConversationBody = Static<typeof CreateConversationBody>;

export const ListConversationsQuery = Type.Object(
  {
    status: Type.Optional(ConversationStatusSchema),
    type: Type.Optional(ConversationTypeSchema),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type ListConversationsQuery = Static<typeof ListConversationsQuery>;

export const UpdateConversationBody = Type.Object(
  { title: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]) },
  { additionalProperties: false },
);

export const AddMemberBody = Type.Object({ userId: Id }, { additionalProperties: false });

export const HistoryQuery = Type.Object(
  {
    afterSeq: Type.Optional(SeqInput(0)),
    beforeSeq: Type.Optional(SeqInput(1)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuery>;

export const SendMessageBody = Type.Object(
  {
    body: MessageBody,
    type: Type.Optional(MessageTypeSchema),
    clientMessageId: Type.Optional(ClientMessageId),
    attachmentIds: Type.Optional(AttachmentIds),
  },
  { additionalProperties: false },
);
export type SendMessageBody = Static<typeof SendMessageBody>;

export const EditMessageBody = Type.Object({ body: MessageBody }, { additionalProperties: false });

export const ReadBody = Type.Object({ seq: SeqInput(0) }, { additionalProperties: false });

export const SearchQuery = Type.Object(
  { q: Type.String({ minLength: 1, maxLength: 200 }), ...PageQuery },
  { additionalProperties: false },
);

/**
 * What the conversation must still be for an internal change to apply, checked under its row lock: a
 * caller acting on an event (which may be redelivered long after) says what the event saw, and learns
 * with 409 `precondition_failed` that the conversation has moved on instead of undoing what came since.
 */
export const ConversationExpectation = Type.Object(
  {
    status: Type.Optional(ConversationStatusSchema),
    handledBy: Type.Optional(HandledBySchema),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ConversationExpectation = Static<typeof ConversationExpectation>;

/** Internal API (service token): what the console and bots change on a conversation. */
export const InternalUpdateConversationBody = Type.Object(
  {
    status: Type.Optional(ConversationStatusSchema),
    assigneeId: Type.Optional(Type.Union([Id, Type.Null()])),
    handledBy: Type.Optional(HandledBySchema),
    expect: Type.Optional(ConversationExpectation),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type InternalUpdateConversationBody = Static<typeof InternalUpdateConversationBody>;

/** Internal API (service token): a bot reply or a system notice, idempotent by clientMessageId. */
export const InternalPostMessageBody = Type.Object(
  {
    senderId: Id,
    senderType: Type.Union([Type.Literal('bot'), Type.Literal('system')]),
    body: MessageBody,
    type: Type.Optional(MessageTypeSchema),
    clientMessageId: ClientMessageId,
  },
  { additionalProperties: false },
);
export type InternalPostMessageBody = Static<typeof InternalPostMessageBody>;

/** Internal API (service token): which message a sender stored under a clientMessageId, if any. */
export const InternalPostedMessageQuery = Type.Object(
  { senderId: Id, clientMessageId: ClientMessageId },
  { additionalProperties: false },
);
export type InternalPostedMessageQuery = Static<typeof InternalPostedMessageQuery>;
