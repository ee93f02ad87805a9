export interface PostedMessage {
  id: string;
  seq: number;
  createdAt: string;
  /** False when chat already had a message with this clientMessageId: the original came back. */
  created: boolean;
}

/** A message chat already stored, as much of it as a reply taken over records. */
export interface StoredMessage {
  id: string;
  seq: number;
  body: string;
  createdAt: string;
}

export interface BotMessage {
  senderId: string;
  senderType: 'bot' | 'system';
  body: string;
  clientMessageId: string;
}

/** Chat refused because the conversation is closed, gone, or the change is not allowed now. */
export class ChatRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChatRefusedError';
  }
}

type Status = 'open' | 'pending' | 'resolved' | 'closed';
type HandledBy = 'bot' | 'human' | null;

export interface ConversationChanges {
  status?: Status;
  handledBy?: HandledBy;
  /** Only if the conversation is still so; otherwise ChatRefusedError with code `precondition_failed`. */
  expect?: { status?: Status; handledBy?: HandledBy };
}

/**
 * What bots asks of chat: post a bot message (idempotent by clientMessageId), find one posted before, and
 * change who handles a conversation.
 */
export interface ChatClient {
  postMessage(conversationId: string, message: BotMessage): Promise<PostedMessage>;
  /** The message `senderId` posted in the conversation with `clientMessageId`, or null if chat has none. */
  findPosted(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<StoredMessage | null>;
  updateConversation(conversationId: string, changes: ConversationChanges): Promise<void>;
}
