import type { Cache } from '@parley/cache';
import type { Logger } from '@parley/kernel';
import type { Database, Outbox } from '@parley/store';
import type { ChatMetrics } from '../ops/chat-metrics.ts';
import type { AttachmentsRepository } from '../repositories/attachments-repository.ts';
import type { BotDirectoryRepository } from '../repositories/bot-directory-repository.ts';
import type { ConversationsRepository } from '../repositories/conversations-repository.ts';
import type { MessagesRepository } from '../repositories/messages-repository.ts';
import type { SendRepository } from '../repositories/send-repository.ts';
import type { SyncRepository } from '../repositories/sync-repository.ts';
import type { UsersRepository } from '../repositories/users-repository.ts';
import type { Notifier } from './notifier.ts';

export interface ChatLimits {
  messageMaxBytes: number;
  groupMaxMembers: number;
}

/** What the domain services share: repositories, the outbox, the cache and the way to reach sockets. */
export interface DomainDeps {
  database: Database;
  outbox: Outbox;
  cache: Cache;
  conversations: ConversationsRepository;
  messages: MessagesRepository;
  send: SendRepository;
  users: UsersRepository;
  attachments: AttachmentsRepository;
  sync: SyncRepository;
  notifier: Notifier;
  limits: ChatLimits;
  /** Which bot an admin chose to answer support conversations (none: they wait for a human). */
  botDirectory: BotDirectoryRepository;
  metrics: ChatMetrics;
  /** For what fails after a change committed, when the caller must still get its answer. */
  logger: Logger;
}
