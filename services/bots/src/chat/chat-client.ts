export interface PostedMessage {
  id: string;
  seq: number;
  createdAt: string;
  /** False when chat already had a message with this clientMessageId: the original came back. */
  created: boolean;
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

/** What bots asks of chat: post a bot message (idempotent by clientMessageId) and change who handles a conversation. */
export interface ChatClient {
  postMessage(conversationId: string, message: BotMessage): Promise<PostedMessage>;
  updateConversation(conversationId: string, changes: ConversationChanges): Promise<void>;
}
