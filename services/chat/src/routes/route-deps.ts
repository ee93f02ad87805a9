import type { Authenticator } from '@parley/kernel';
import type { ConversationService } from '../domain/conversations.ts';
import type { HistoryService } from '../domain/history.ts';
import type { MessageService } from '../domain/messages.ts';
import type { ReceiptService } from '../domain/receipts.ts';
import type { UploadService } from '../domain/uploads.ts';

export interface RouteDeps {
  authenticator: Authenticator;
  conversations: ConversationService;
  messages: MessageService;
  history: HistoryService;
  receipts: ReceiptService;
  uploads: UploadService;
  internalToken: string;
}
