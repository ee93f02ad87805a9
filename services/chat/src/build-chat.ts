import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bus, Subscription } from '@parley/bus';
import type { Cache } from '@parley/cache';
import {
  type Authenticator,
  type Config,
  installAuthentication,
  type Logger,
  type ServicePlugin,
  type TypedApp,
} from '@parley/kernel';
import { type Database, installEventOperations, migrate, Outbox, OutboxPublishing } from '@parley/store';
import { ConversationService } from './domain/conversations.ts';
import type { DomainDeps } from './domain/deps.ts';
import { HistoryService } from './domain/history.ts';
import { type GroupCommitTuning, MessageService } from './domain/messages.ts';
import { NotifierSlot } from './domain/notifier.ts';
import { ReceiptService } from './domain/receipts.ts';
import { SyncService } from './domain/sync.ts';
import { UploadService } from './domain/uploads.ts';
import { consumeBotEvents } from './events/bots-consumer.ts';
import { consumeIdentityEvents } from './events/identity-consumer.ts';
import { RelayNudger } from './events/relay-nudger.ts';
import { DiskFileStorage } from './files/disk-file-storage.ts';
import type { FileStorage } from './files/file-storage.ts';
import { ChatMetrics } from './ops/chat-metrics.ts';
import { SocketServer } from './realtime/socket-server.ts';
import { TypingRelay } from './realtime/typing.ts';
import { AttachmentsRepository } from './repositories/attachments-repository.ts';
import { BotDirectoryRepository } from './repositories/bot-directory-repository.ts';
import { ConversationsRepository } from './repositories/conversations-repository.ts';
import { MessagesRepository } from './repositories/messages-repository.ts';
import { SendRepository } from './repositories/send-repository.ts';
import { SyncRepository } from './repositories/sync-repository.ts';
import { UsersRepository } from './repositories/users-repository.ts';
import { conversationRoutes } from './routes/conversation-routes.ts';
import { internalRoutes } from './routes/internal-routes.ts';
import { messageRoutes } from './routes/message-routes.ts';
import type { RouteDeps } from './routes/route-deps.ts';
import { uploadRoutes } from './routes/upload-routes.ts';
import { deadLetters, outbox as outboxTable } from './schema/schema.ts';

export const CHAT_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export type ChatConfig = Pick<
  Config,
  | 'dataDir'
  | 'redisUrl'
  | 'socketRateLimit'
  | 'messageMaxBytes'
  | 'groupMaxMembers'
  | 'uploadMaxBytes'
  | 'uploadTypes'
  | 'corsOrigins'
  | 'outboxPollMs'
  | 'outboxLeaseMs'
>;

export interface ChatDeps {
  config: ChatConfig;
  database: Database;
  cache: Cache;
  bus: Bus;
  logger: Logger;
  authenticator: Authenticator;
  /** The shared secret of the internal API (kernel's resolveInternalToken). */
  internalToken: string;
  /** Defaults to the data dir's `uploads/`. */
  fileStorage?: FileStorage;
  groupCommit?: GroupCommitTuning;
  /**
   * No other process uses this database (embedded PGlite is reachable only from the process that opened
   * it): outbox leases found at start are a crashed run's, lifted so its events go out at once.
   */
  soleProcess?: boolean;
}

/**
 * The chat service as a Fastify plugin: migrations at registration, REST routes, Socket.IO on the process's
 * HTTP server; the outbox relay and the identity and bots consumers start when the app is ready and stop, with the
 * sockets, when it closes.
 */
export async function buildChat(deps: ChatDeps): Promise<ServicePlugin> {
  const { config, database, logger } = deps;
  const outbox = new Outbox(database, { outbox: outboxTable }, logger);
  const notifier = new NotifierSlot();
  const metrics = new ChatMetrics();
  const domain: DomainDeps = {
    database,
    outbox,
    cache: deps.cache,
    conversations: new ConversationsRepository(database.db),
    messages: new MessagesRepository(database.db),
    send: new SendRepository(database.kind),
    users: new UsersRepository(database.db),
    attachments: new AttachmentsRepository(database.db),
    sync: new SyncRepository(database.db),
    notifier,
    limits: { messageMaxBytes: config.messageMaxBytes, groupMaxMembers: config.groupMaxMembers },
    botDirectory: new BotDirectoryRepository(database.db),
    metrics,
    logger,
  };
  const messages = new MessageService(domain, deps.groupCommit);
  const conversations = new ConversationService(domain, messages);
  const receipts = new ReceiptService(domain);
  const routeDeps: RouteDeps = {
    authenticator: deps.authenticator,
    conversations,
    messages,
    history: new HistoryService(domain, messages),
    receipts,
    uploads: new UploadService(
      deps.fileStorage ?? new DiskFileStorage(join(config.dataDir, 'uploads')),
      domain.attachments,
      { uploadTypes: config.uploadTypes },
    ),
    internalToken: deps.internalToken,
  };

  const plugin = async (app: TypedApp) => {
    await migrate(database, { schema: 'chat', migrationsFolder: CHAT_MIGRATIONS });
    installAuthentication(app);
    metrics.register(app.metrics.registry);
    conversationRoutes(app, routeDeps);
    messageRoutes(app, routeDeps);
    internalRoutes(app, routeDeps);
    const deadLetterBox = installEventOperations(app, {
      service: 'chat',
      database,
      tables: { outbox: outboxTable, deadLetters },
      internalToken: deps.internalToken,
      logger,
    });
    await uploadRoutes(app, routeDeps, config.uploadMaxBytes);

    const sockets = new SocketServer({
      httpServer: app.server,
      authenticator: deps.authenticator,
      services: {
        conversations,
        messages,
        receipts,
        sync: new SyncService(domain),
        conversationsRepository: domain.conversations,
        typing: new TypingRelay(domain.conversations, domain.users, notifier),
        logger,
      },
      cache: deps.cache,
      logger,
      redisUrl: config.redisUrl,
      socketRateLimit: config.socketRateLimit,
      messageMaxBytes: config.messageMaxBytes,
      corsOrigins: config.corsOrigins,
      metrics,
    });
    notifier.use(sockets);

    const publishing = new OutboxPublishing({
      outbox,
      database,
      tables: { outbox: outboxTable },
      bus: deps.bus,
      logger,
      pollMs: config.outboxPollMs,
      leaseMs: config.outboxLeaseMs,
    });
    const nudger = new RelayNudger(() => publishing.wakeRelay());
    const stopWaking = outbox.onCommitted(() => nudger.nudge());
    const subscriptions: Subscription[] = [];

    app.addHook('onReady', async () => {
      await sockets.start();
      if (deps.soleProcess) await publishing.liftOrphanedLeases();
      publishing.start();
      subscriptions.push(
        await consumeIdentityEvents({
          bus: deps.bus,
          database,
          users: domain.users,
          sessions: sockets,
          deadLetters: deadLetterBox,
          logger,
        }),
        await consumeBotEvents({
          bus: deps.bus,
          database,
          directory: domain.botDirectory,
          deadLetters: deadLetterBox,
          logger,
        }),
      );
    });
    // Upgraded connections would keep the HTTP server from closing: drop them first.
    app.addHook('preClose', async () => {
      sockets.disconnectLocal();
    });
    app.addHook('onClose', async () => {
      await Promise.all(subscriptions.map((subscription) => subscription.close()));
      await sockets.close();
      stopWaking();
      nudger.stop();
      await publishing.stop();
    });
  };
  return { name: 'chat', plugin: plugin as ServicePlugin['plugin'] };
}
