import type { Logger, Principal } from '@parley/kernel';
import type { ConversationService } from '../domain/conversations.ts';
import type { MessageService } from '../domain/messages.ts';
import type { ReceiptService } from '../domain/receipts.ts';
import type { SyncService } from '../domain/sync.ts';
import type { ConversationsRepository } from '../repositories/conversations-repository.ts';
import type { EventHandlerContext } from './handle.ts';
import type { TypingRelay } from './typing.ts';

/** The domain services a socket's event handlers call: the same ones the REST routes call. */
export interface RealtimeServices {
  conversations: ConversationService;
  messages: MessageService;
  receipts: ReceiptService;
  sync: SyncService;
  conversationsRepository: ConversationsRepository;
  typing: TypingRelay;
  logger: Logger;
}

export interface SocketContext extends EventHandlerContext {
  principal: Principal;
  /** This socket (one tab): typing is tracked per tab. */
  socketId: string;
  services: RealtimeServices;
}
