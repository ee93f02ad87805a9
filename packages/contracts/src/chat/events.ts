import { type Static, Type } from 'typebox';
import { ConversationSchema, MessageSchema } from './models.ts';
import { ReceiptKind } from './socket.ts';

/** Durable chat facts, published through chat's outbox: what bots, console and personalization consume. */
export const ChatEvents = {
  conversationCreated: 'chat.conversation.created',
  conversationUpdated: 'chat.conversation.updated',
  conversationDeleted: 'chat.conversation.deleted',
  messageCreated: 'chat.message.created',
  messageUpdated: 'chat.message.updated',
  messageDeleted: 'chat.message.deleted',
  receiptUpdated: 'chat.receipt.updated',
} as const;

/** The conversation as every consumer sees it (no per-reader fields such as unreadCount). */
export const ConversationSnapshot = Type.Omit(ConversationSchema, ['unreadCount', 'lastMessage']);
export type ConversationSnapshot = Static<typeof ConversationSnapshot>;

export const ConversationEventData = Type.Object({ conversation: ConversationSnapshot });
export type ConversationEventData = Static<typeof ConversationEventData>;

export const ConversationDeletedData = Type.Object({ conversationId: Type.String() });
export type ConversationDeletedData = Static<typeof ConversationDeletedData>;

/**
 * A message with enough of its conversation for a consumer to route it without asking chat (no member list:
 * it would make every event of a large group heavy; members come with the conversation events).
 */
export const MessageEventData = Type.Object({
  message: MessageSchema,
  conversation: Type.Object({
    id: Type.String(),
    type: ConversationSnapshot.properties.type,
    botId: Type.Optional(Type.String()),
    status: ConversationSnapshot.properties.status,
    handledBy: ConversationSnapshot.properties.handledBy,
  }),
});
export type MessageEventData = Static<typeof MessageEventData>;

export const ReceiptEventData = Type.Object({
  conversationId: Type.String(),
  userId: Type.String(),
  kind: ReceiptKind,
  seq: Type.Integer({ minimum: 0 }),
});
export type ReceiptEventData = Static<typeof ReceiptEventData>;
