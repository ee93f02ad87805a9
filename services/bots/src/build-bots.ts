import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import type { ChatClient } from './chat/chat-client.ts';
import { HttpChatClient } from './chat/http-chat-client.ts';
import { BotLookup } from './domain/bot-lookup.ts';
import { BotService } from './domain/bot-service.ts';
import { CommandService } from './domain/command-service.ts';
import { seedDefaultBot } from './domain/default-bot-seeder.ts';
import { KnowledgeIndex } from './domain/knowledge-index.ts';
import { KnowledgeService } from './domain/knowledge-service.ts';
import { PriceTable } from './domain/price-table.ts';
import { UsageMeter } from './domain/usage-meter.ts';
import { EgressGuard } from './egress/egress-guard.ts';
import { EgressPolicy } from './egress/egress-policy.ts';
import { consumeConversations } from './events/conversation-consumer.ts';
import { consumeMessages } from './events/message-consumer.ts';
import { CompletionService } from './openai/completion-service.ts';
import { BotsMetrics } from './ops/bots-metrics.ts';
import { NoPersonalContext, type PersonalContext } from './personalization/personal-context.ts';
import { ProviderFactory } from './providers/provider-factory.ts';
import type { ResiliencePolicy } from './providers/resilient-provider.ts';
import { CancellationRegistry } from './replies/cancellation.ts';
import { CommandHandler } from './replies/command-handler.ts';
import { type CoalescePolicy, DEFAULT_COALESCE } from './replies/draft-stream.ts';
import { LeaseSweeper } from './replies/lease-sweeper.ts';
import { ReplyDispatcher } from './replies/reply-dispatcher.ts';
import { ReplyPoster } from './replies/reply-poster.ts';
import { ReplyRunner } from './replies/reply-runner.ts';
import { BotsRepository } from './repositories/bots-repository.ts';
import { CommandsRepository } from './repositories/commands-repository.ts';
import { KnowledgeRepository } from './repositories/knowledge-repository.ts';
import { RepliesRepository } from './repositories/replies-repository.ts';
import { SeedsRepository } from './repositories/seeds-repository.ts';
import { TranscriptRepository } from './repositories/transcript-repository.ts';
import { UsageRepository } from './repositories/usage-repository.ts';
import { botRoutes } from './routes/bot-routes.ts';
import { knowledgeRoutes } from './routes/knowledge-routes.ts';
import { openAiRoutes } from './routes/openai-routes.ts';
import type { RouteDeps } from './routes/route-deps.ts';
import { deadLetters, outbox as outboxTable } from './schema/schema.ts';
import { SecretBox } from './secrets/secret-box.ts';
import { resolveBotsSecretKey } from './secrets/secret-key.ts';

export const BOTS_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export type BotsConfig = Pick<
  Config,
  | 'dataDir'
  | 'egressAllowlist'
  | 'openaiApiKey'
  | 'openaiBaseUrl'
  | 'botsSecretKey'
  | 'botsDailyTokenQuota'
  | 'botsPrices'
  | 'botsFirstTokenTimeoutMs'
  | 'botsTotalTimeoutMs'
  | 'messageMaxBytes'
  | 'outboxPollMs'
  | 'outboxLeaseMs'
>;

/** Knobs tests and benchmarks turn; production uses the defaults. */
export interface BotsTuning {
  coalesce?: Partial<CoalescePolicy>;
  /** How long a claimed reply belongs to its process (default: total timeout + 60 s). */
  leaseMs?: number;
  /** How often lapsed replies are looked for (default 5 s). */
  sweepMs?: number;
  /** Takeovers before a reply is given up with a notice (default 3). */
  maxAttempts?: number;
  /** Concurrent replies per process (default 256). */
  concurrency?: number;
  /** How long shutdown waits for replies in progress before handing them over (default 5 s). */
  shutdownGraceMs?: number;
  resilience?: Partial<Pick<ResiliencePolicy, 'retries' | 'backoffMs'>>;
}

export interface BotsDeps {
  config: BotsConfig;
  database: Database;
  cache: Cache;
  bus: Bus;
  logger: Logger;
  authenticator: Authenticator;
  /** The shared secret of chat's internal API (kernel's resolveInternalToken). */
  internalToken: string;
  /** Chat's base URL when it runs in another process; unset: chat is served by this process. */
  chatUrl?: string | undefined;
  /** Replaces the HTTP client of chat's internal API (tests). */
  chat?: ChatClient;
  /** What personalization knows about users; nothing until that service exists. */
  personalContext?: PersonalContext;
  /** DNS for the egress guard (tests); the system resolver otherwise. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
  tuning?: BotsTuning;
  /**
   * No other process answers replies from this database (embedded PGlite is reachable only from the
   * process that opened it): a reply still running at start, an event still leased in the outbox or a
   * quota reservation was left by this process's previous run, dead: replies and events are taken over
   * at once instead of when their lease lapses, and reservations no longer count.
   */
  soleProcess?: boolean;
}

export interface BotsService extends ServicePlugin {
  /** Runs one sweep for lapsed replies now (tests); reports replies in progress and finished here. */
  runtime: { sweep(): Promise<void>; inFlight(): number; completed(): number };
}

/**
 * The bots service as a Fastify plugin: migrations and the default bot at registration, REST and the
 * OpenAI-compatible API, and, once the app is ready, the consumers of chat's events, the reply dispatcher,
 * the lapsed-reply sweeper and the outbox relay; all of it stops, in order, when the app closes.
 */
export async function buildBots(deps: BotsDeps): Promise<BotsService> {
  const { config, database, logger } = deps;
  const tuning = deps.tuning ?? {};
  const outbox = new Outbox(database, { outbox: outboxTable }, logger);
  const repositories = {
    bots: new BotsRepository(database.db),
    knowledge: new KnowledgeRepository(database.db),
    commands: new CommandsRepository(database.db),
    replies: new RepliesRepository(database.db),
    transcript: new TranscriptRepository(database.db),
    usage: new UsageRepository(database.db),
    seeds: new SeedsRepository(),
  };
  const egress = new EgressGuard(new EgressPolicy(config.egressAllowlist), deps.resolve);
  const secrets = new SecretBox(await resolveBotsSecretKey(config));
  const lookup = new BotLookup(repositories.bots, deps.cache, logger);
  const bots = new BotService({ outbox, bots: repositories.bots, egress, secrets, lookup });
  const knowledgeIndex = new KnowledgeIndex(repositories.bots, repositories.knowledge, logger);
  const usage = new UsageMeter(repositories.usage, new PriceTable(config.botsPrices), {
    dailyQuota: config.botsDailyTokenQuota,
    // A provider call ends within the total timeout, retries included; the margin covers metering it.
    reservationMs: config.botsTotalTimeoutMs + 60_000,
  });
  const personal = deps.personalContext ?? new NoPersonalContext();
  const providers = new ProviderFactory({
    egress,
    knowledge: knowledgeIndex,
    defaultBaseUrl: config.openaiBaseUrl,
    defaultApiKey: config.openaiApiKey,
    apiKeyOf: (row) => bots.apiKeyOf(row),
    resilience: {
      firstTokenTimeoutMs: config.botsFirstTokenTimeoutMs,
      totalTimeoutMs: config.botsTotalTimeoutMs,
      ...tuning.resilience,
    },
  });
  const leaseMs = tuning.leaseMs ?? config.botsTotalTimeoutMs + 60_000;

  const plugin = async (app: TypedApp) => {
    await migrate(database, { schema: 'bots', migrationsFolder: BOTS_MIGRATIONS });
    // Before anything here can claim or reserve: only the previous run's replies and reservations go.
    if (deps.soleProcess) {
      const orphaned = await repositories.replies.releaseAll();
      if (orphaned > 0) logger.info({ replies: orphaned }, 'taking over the replies a crash left unfinished');
      // Their calls died with that run: still counted, they could get the takeovers refused for quota.
      await repositories.usage.releaseAll();
    }
    if (await seedDefaultBot({ outbox, ...repositories }))
      logger.info('created the default bot, Parley Assistant');

    const chat =
      deps.chat ??
      new HttpChatClient({
        baseUrl: () => deps.chatUrl ?? ownUrl(app.server),
        internalToken: deps.internalToken,
        logger,
      });
    const cancellation = new CancellationRegistry(deps.cache, logger);
    const poster = new ReplyPoster(chat, repositories.transcript, config.messageMaxBytes, logger);
    const runner = new ReplyRunner({
      ...repositories,
      outbox,
      lookup,
      cache: deps.cache,
      cancellation,
      poster,
      usage,
      knowledge: knowledgeIndex,
      providers,
      personal,
      commands: new CommandHandler({
        chat,
        commands: repositories.commands,
        transcript: repositories.transcript,
        poster,
        cancellation,
        logger,
      }),
      coalesce: { ...DEFAULT_COALESCE, ...tuning.coalesce },
      metrics: new BotsMetrics(app.metrics.registry),
      logger,
    });
    const dispatcher = new ReplyDispatcher(
      runner,
      repositories.replies,
      cancellation,
      logger,
      tuning.concurrency,
      leaseMs,
    );
    const sweeper = new LeaseSweeper(
      repositories.replies,
      dispatcher,
      runner,
      { intervalMs: tuning.sweepMs ?? 5000, leaseMs, maxAttempts: tuning.maxAttempts ?? 3 },
      logger,
    );
    runtime.sweep = () => sweeper.sweep();
    runtime.inFlight = () => dispatcher.inFlight;
    runtime.completed = () => dispatcher.completed;

    const routeDeps: RouteDeps = {
      authenticator: deps.authenticator,
      bots,
      knowledge: new KnowledgeService(outbox, repositories.bots, repositories.knowledge, lookup),
      commands: new CommandService(repositories.bots, repositories.commands),
      completions: new CompletionService({
        bots: repositories.bots,
        providers,
        knowledge: knowledgeIndex,
        personal,
        usage,
        logger,
      }),
      logger,
    };
    installAuthentication(app);
    botRoutes(app, routeDeps);
    knowledgeRoutes(app, routeDeps);
    openAiRoutes(app, routeDeps);
    const deadLetterBox = installEventOperations(app, {
      service: 'bots',
      database,
      tables: { outbox: outboxTable, deadLetters },
      internalToken: deps.internalToken,
      logger,
    });

    const publishing = new OutboxPublishing({
      outbox,
      database,
      tables: { outbox: outboxTable },
      bus: deps.bus,
      logger,
      pollMs: config.outboxPollMs,
      leaseMs: config.outboxLeaseMs,
    });
    const stopWaking = outbox.onCommitted(() => publishing.wakeRelay());
    const subscriptions: Subscription[] = [];

    app.addHook('onReady', async () => {
      await cancellation.start();
      await lookup.start();
      if (deps.soleProcess) await publishing.liftOrphanedLeases();
      publishing.start();
      subscriptions.push(
        await consumeMessages({
          bus: deps.bus,
          transcript: repositories.transcript,
          replies: repositories.replies,
          dispatcher,
          leaseMs,
          deadLetters: deadLetterBox,
          logger,
        }),
        await consumeConversations({ bus: deps.bus, chat, cancellation, logger }),
      );
      dispatcher.start();
      sweeper.start({ now: deps.soleProcess === true });
    });
    app.addHook('onClose', async () => {
      await Promise.all(subscriptions.map((subscription) => subscription.close()));
      await sweeper.stop();
      await dispatcher.stop(tuning.shutdownGraceMs ?? 5000);
      await cancellation.stop();
      await lookup.stop();
      stopWaking();
      await publishing.stop();
      await egress.close();
    });
  };
  const runtime: BotsService['runtime'] = { sweep: async () => {}, inFlight: () => 0, completed: () => 0 };
  return { name: 'bots', plugin: plugin as ServicePlugin['plugin'], runtime };
}

/** How long a reply ready before this process listens waits for it (a start that fails never listens). */
const LISTEN_WAIT_MS = 30_000;

/** This process's own address, for reaching chat when it is served here too; once it listens. */
async function ownUrl(server: Server): Promise<string> {
  if (!server.listening) {
    await once(server, 'listening', { signal: AbortSignal.timeout(LISTEN_WAIT_MS) }).catch(() => {
      throw new Error('the server is not listening yet');
    });
  }
  const address = server.address() as AddressInfo | string | null;
  if (!address || typeof address === 'string') throw new Error('the server is not listening yet');
  const host =
    address.address === '0.0.0.0' || address.address === '::'
      ? '127.0.0.1'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address;
  return `http://${host}:${address.port}`;
}
