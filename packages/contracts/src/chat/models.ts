import { type Static, Type } from 'typebox';

export const CONVERSATION_TYPES = ['direct', 'group', 'bot', 'support'] as const;
export const CONVERSATION_STATUSES = ['open', 'pending', 'resolved', 'closed'] as const;
export const MESSAGE_TYPES = ['text', 'image', 'file', 'system'] as const;
export const SENDER_TYPES = ['user', 'bot', 'agent', 'system'] as const;
export const MEMBER_ROLES = ['owner', 'member', 'agent'] as const;

export type ConversationType = (typeof CONVERSATION_TYPES)[number];
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];
export type MessageType = (typeof MESSAGE_TYPES)[number];
export type SenderType = (typeof SENDER_TYPES)[number];
export type MemberRole = (typeof MEMBER_ROLES)[number];
export type HandledBy = 'bot' | 'human' | null;

export const ConversationTypeSchema = Type.Union([
  Type.Literal('direct'),
  Type.Literal('group'),
  Type.Literal('bot'),
  Type.Literal('support'),
]);
export const ConversationStatusSchema = Type.Union([
  Type.Literal('open'),
  Type.Literal('pending'),
  Type.Literal('resolved'),
  Type.Literal('closed'),
]);
export const MessageTypeSchema = Type.Union([
  Type.Literal('text'),
  Type.Literal('image'),
  Type.Literal('file'),
  Type.Literal('system'),
]);
const SenderTypeSchema = Type.Union([
  Type.Literal('user'),
  Type.Literal('bot'),
  Type.Literal('agent'),
  Type.Literal('system'),
]);
const MemberRoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('member'), Type.Literal('agent')]);
export const HandledBySchema = Type.Union([Type.Literal('bot'), Type.Literal('human'), Type.Null()]);

export const AttachmentSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    mimeType: Type.String(),
    size: Type.Integer({ minimum: 0 }),
    url: Type.String(),
  },
  { $id: 'Attachment' },
);
export type Attachment = Static<typeof AttachmentSchema>;

export const MessageSchema = Type.Object(
  {
    id: Type.String(),
    conversationId: Type.String(),
    seq: Type.Integer({ minimum: 1 }),
    senderId: Type.String(),
    senderType: SenderTypeSchema,
    type: MessageTypeSchema,
    body: Type.String(),
    attachments: Type.Array(AttachmentSchema),
    clientMessageId: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    editedAt: Type.Optional(Type.String({ format: 'date-time' })),
    deletedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { $id: 'Message' },
);
export type Message = Static<typeof MessageSchema>;

export const MemberSchema = Type.Object({ userId: Type.String(), role: MemberRoleSchema });
export type Member = Static<typeof MemberSchema>;

export const LastMessageSchema = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  senderId: Type.String(),
  type: MessageTypeSchema,
  body: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  deleted: Type.Boolean(),
});

export const ConversationSchema = Type.Object(
  {
    id: Type.String(),
    type: ConversationTypeSchema,
    title: Type.Union([Type.String(), Type.Null()]),
    createdBy: Type.String(),
    members: Type.Array(MemberSchema),
    botId: Type.Optional(Type.String()),
    status: ConversationStatusSchema,
    assigneeId: Type.Optional(Type.String()),
    handledBy: HandledBySchema,
    lastMessage: Type.Optional(LastMessageSchema),
    lastSeq: Type.Integer({ minimum: 0 }),
    unreadCount: Type.Integer({ minimum: 0 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Conversation' },
);
export type Conversation = Static<typeof ConversationSchema>;
