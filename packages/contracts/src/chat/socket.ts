import { type Static, Type } from 'typebox';
import { type Conversation, type Message, MessageTypeSchema } from './models.ts';
import { AttachmentIds, ClientMessageId, MessageBody, SeqInput } from './rest.ts';

const CONVERSATION_ID_LENGTH = { minLength: 1, maxLength: 64 };
const ConversationId = Type.String(CONVERSATION_ID_LENGTH);

/** Client → server events; each is validated against its schema and acknowledged. */
export const MessageSendPayload = Type.Object(
  {
    conversationId: ConversationId,
    body: MessageBody,
    type: Type.Optional(MessageTypeSchema),
    clientMessageId: ClientMessageId,
    attachmentIds: Type.Optional(AttachmentIds),
  },
  { additionalProperties: false },
);
export type MessageSendPayload = Static<typeof MessageSendPayload>;

export const TypingPayload = Type.Object(
  { conversationId: ConversationId, typing: Type.Boolean() },
  { additionalProperties: false },
);
export type TypingPayload = Static<typeof TypingPayload>;

export const ReceiptKind = Type.Union([Type.Literal('delivered'), Type.Literal('read')]);
export type ReceiptKind = Static<typeof ReceiptKind>;

export const ReceiptPayload = Type.Object(
  { conversationId: ConversationId, seq: SeqInput(0), kind: ReceiptKind },
  { additionalProperties: false },
);
export type ReceiptPayload = Static<typeof ReceiptPayload>;

export const SyncPayload = Type.Object(
  {
    /** The last seq the client has seen per conversation (0 for none). */
    // A record's key schema only picks the key pattern (any string here) and its length limits are not
    // checked, so the keys are held to the conversation id's limits by propertyNames.
    conversations: Type.Record(Type.String(), SeqInput(0), {
      maxProperties: 1000,
      propertyNames: CONVERSATION_ID_LENGTH,
    }),
    /** The syncToken of the client's previous sync; without it, `changes` is empty. */
    since: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type SyncPayload = Static<typeof SyncPayload>;

export const CLIENT_EVENTS = {
  messageSend: 'message:send',
  typing: 'typing',
  receipt: 'receipt',
  sync: 'sync',
} as const;

export const SERVER_EVENTS = {
  messageNew: 'message:new',
  messageUpdated: 'message:updated',
  messageDeleted: 'message:deleted',
  messageDelta: 'message:delta',
  typing: 'typing',
  receipt: 'receipt',
  presence: 'presence',
  conversationUpdated: 'conversation:updated',
  /** The conversation is gone (its owner or an admin deleted it): clients drop it and its messages. */
  conversationDeleted: 'conversation:deleted',
  /** Sent right before the server disconnects a socket, saying why (`token_expired`, `session_revoked`, ...). */
  sessionEnded: 'session:ended',
} as const;

export interface AckError {
  ok: false;
  error: { code: string; message: string };
}
export type Ack<T extends object = object> = ({ ok: true } & T) | AckError;

export interface Draft {
  conversationId: string;
  draftId: string;
  text: string;
}

export interface SyncResult {
  messages: Message[];
  changes: Message[];
  more: Record<string, true>;
  /**
   * More edits and deletes are waiting than one answer carries: sync again with the new syncToken (which
   * points after the last change returned) until this is false.
   */
  moreChanges: boolean;
  drafts: Draft[];
  /**
   * Set when the drafts could not be read (the cache is unreachable): `drafts` is empty though replies may
   * be streaming; each still arrives as its message. Everything else in the answer is complete.
   */
  draftsUnavailable?: true;
  syncToken: string;
}

export interface TypingEvent {
  conversationId: string;
  userId: string;
  typing: boolean;
}
export interface ReceiptEvent {
  conversationId: string;
  userId: string;
  seq: number;
  kind: ReceiptKind;
}
export interface PresenceEvent {
  userId: string;
  status: 'online' | 'offline';
  lastSeenAt: string | null;
}
export interface MessageDeltaEvent {
  conversationId: string;
  draftId: string;
  delta: string;
  index: number;
}
export interface ConversationDeletedEvent {
  conversationId: string;
}
export interface SessionEndedEvent {
  /**
   * `role_changed`: an admin changed the user's role, so the token this socket was opened with (which
   * carries the old role) is revoked; the client refreshes and reconnects with the new role.
   */
  reason: 'token_expired' | 'session_revoked' | 'deactivated' | 'role_changed';
}

/** Typed maps for socket.io's generics, shared by the server and every client (web, SDK, tests). */
export interface ServerToClientEvents {
  'message:new': (message: Message) => void;
  'message:updated': (message: Message) => void;
  'message:deleted': (message: Message) => void;
  'message:delta': (delta: MessageDeltaEvent) => void;
  typing: (event: TypingEvent) => void;
  receipt: (event: ReceiptEvent) => void;
  presence: (event: PresenceEvent) => void;
  'conversation:updated': (conversation: Conversation) => void;
  'conversation:deleted': (event: ConversationDeletedEvent) => void;
  'session:ended': (event: SessionEndedEvent) => void;
}

export interface ClientToServerEvents {
  'message:send': (payload: MessageSendPayload, ack: (result: Ack<{ message: Message }>) => void) => void;
  typing: (payload: TypingPayload, ack: (result: Ack) => void) => void;
  receipt: (payload: ReceiptPayload, ack: (result: Ack) => void) => void;
  sync: (payload: SyncPayload, ack: (result: Ack<SyncResult>) => void) => void;
}
