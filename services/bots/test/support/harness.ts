import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Bus, MemoryBus } from '@parley/bus';
import { type Cache, createCache, MemoryCache } from '@parley/cache';
import { buildChat } from '@parley/chat';
import {
  type ClientToServerEvents,
  type Conversation,
  IdentityEvents,
  type Message,
  type ServerToClientEvents,
} from '@parley/contracts';
import { type App, createEvent, createProcessApp, newId, newSecretToken, type Role } from '@parley/kernel';
import { waitFor } from '@parley/kernel/testing';
import { openPgliteTestDatabase, type TestDatabase } from '@parley/store/testing';
import { pino } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { type BotsConfig, type BotsDeps, type BotsService, buildBots } from '../../src/build-bots.ts';
import { TestAuthenticator } from './test-auth.ts';

export const INTERNAL_TOKEN = 'internal-token-for-bots-tests-0123456789';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestUser {
  id: string;
  role: Role;
  token: string;
}

export interface HarnessOptions {
  database?: TestDatabase;
  bus?: Bus;
  redisUrl?: string;
  /** Redis key prefix shared by processes of one test (default: fresh per harness). */
  keyPrefix?: string;
  auth?: TestAuthenticator;
  config?: Partial<BotsConfig>;
  tuning?: BotsDeps['tuning'];
  /** Run chat in this process (default true); false: bots only, posting to `chatUrl`. */
  withChat?: boolean;
  chatUrl?: string;
  /** Browser origins the process answers with CORS headers (default: none). */
  corsOrigins?: string[];
  /** The bots service is told it is the only process on its database (BotsDeps.soleProcess). */
  soleProcess?: boolean;
  /** How long the process waits between getting ready and listening (a slow start's gap). */
  listenDelayMs?: number;
}

export interface Harness {
  app: App;
  url: string;
  database: TestDatabase;
  bus: Bus;
  cache: Cache;
  auth: TestAuthenticator;
  bots: BotsService;
  /** Every log line the process wrote, to prove what never appears in them. */
  logs: string[];
  user(role?: Role): Promise<TestUser>;
  request<T = unknown>(
    user: TestUser | null,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>;
  openBotConversation(user: TestUser, botId: string): Promise<Conversation>;
  send(user: TestUser, conversationId: string, body: string): Promise<Message>;
  messages(user: TestUser, conversationId: string): Promise<Message[]>;
  /** Waits for the bot's reply to a message (by its derived clientMessageId). */
  replyTo(user: TestUser, message: Message, timeoutMs?: number): Promise<Message>;
  socket(user: TestUser): Promise<ClientSocket>;
  close(): Promise<void>;
}

export const BASE_CONFIG: BotsConfig = {
  dataDir: '',
  egressAllowlist: ['127.0.0.1'],
  openaiApiKey: undefined,
  openaiBaseUrl: undefined,
  botsSecretKey: Buffer.alloc(32, 7).toString('base64'),
  botsDailyTokenQuota: 0,
  botsPrices: {},
  botsFirstTokenTimeoutMs: 5000,
  botsTotalTimeoutMs: 10_000,
  messageMaxBytes: 16 * 1024,
  outboxPollMs: 50,
  outboxLeaseMs: 30_000,
};

/** Chat and bots in one process on loopback, as `npm start` runs them, with a test authenticator. */
export async function startParley(options: HarnessOptions = {}): Promise<Harness> {
  const database = options.database ?? (await openPgliteTestDatabase());
  const ownsDatabase = options.database === undefined;
  const logs: string[] = [];
  const logger = pino(
    { level: 'info', redact: { paths: ['*.apiKey', 'apiKey', '*.authorization'], censor: '[redacted]' } },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const bus = options.bus ?? new MemoryBus({ logger });
  const cache = options.redisUrl
    ? createCache({ redisUrl: options.redisUrl, keyPrefix: options.keyPrefix ?? `t${newSecretToken(4)}:` })
    : new MemoryCache();
  const auth = options.auth ?? new TestAuthenticator();
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-bots-'));
  const app = await createProcessApp({
    logger,
    bodyLimitBytes: 1024 * 1024,
    corsOrigins: options.corsOrigins ?? [],
  });
  if (options.withChat ?? true) {
    const chat = await buildChat({
      config: {
        dataDir,
        redisUrl: options.redisUrl,
        socketRateLimit: 100_000,
        messageMaxBytes: 16 * 1024,
        groupMaxMembers: 10,
        uploadMaxBytes: 64 * 1024,
        uploadTypes: ['text/plain'],
        corsOrigins: [],
        outboxPollMs: 50,
        outboxLeaseMs: 30_000,
      },
      database: database.database,
      cache,
      bus,
      logger,
      authenticator: auth,
      internalToken: INTERNAL_TOKEN,
    });
    await app.register(chat.plugin);
  }
  const bots = await buildBots({
    config: { ...BASE_CONFIG, dataDir, ...options.config },
    database: database.database,
    cache,
    bus,
    logger,
    authenticator: auth,
    internalToken: INTERNAL_TOKEN,
    chatUrl: options.chatUrl,
    tuning: { sweepMs: 60_000, shutdownGraceMs: 200, ...options.tuning },
    soleProcess: options.soleProcess,
  });
  await app.register(bots.plugin);
  await app.ready();
  if (options.listenDelayMs) await sleep(options.listenDelayMs);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const sockets: ClientSocket[] = [];

  const request: Harness['request'] = async (user, method, path, body) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(user ? { authorization: `Bearer ${user.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as never };
  };

  const harness: Harness = {
    app,
    url,
    database,
    bus,
    cache,
    auth,
    bots,
    logs,
    async user(role: Role = 'user') {
      const id = newId('usr');
      await bus.publish(
        createEvent(IdentityEvents.userRegistered, {
          user: {
            id,
            email: `${id}@example.com`,
            displayName: `User ${id.slice(-4)}`,
            role,
            avatarUrl: null,
            active: true,
          },
        }),
      );
      return { id, role, token: auth.issue(id, role) };
    },
    request,
    async openBotConversation(user, botId) {
      const { status, body } = await request<Conversation>(user, 'POST', '/api/v1/conversations', {
        type: 'bot',
        botId,
      });
      if (status !== 201) throw new Error(`conversation not created: ${status} ${JSON.stringify(body)}`);
      return body;
    },
    async send(user, conversationId, text) {
      const { status, body } = await request<Message>(
        user,
        'POST',
        `/api/v1/conversations/${conversationId}/messages`,
        {
          body: text,
          clientMessageId: newId('cmi'),
        },
      );
      if (status !== 201) throw new Error(`message not sent: ${status} ${JSON.stringify(body)}`);
      return body;
    },
    async messages(user, conversationId) {
      const { body } = await request<{ items: Message[] }>(
        user,
        'GET',
        `/api/v1/conversations/${conversationId}/messages?limit=100`,
      );
      return body.items;
    },
    async replyTo(user, message, timeoutMs = 10_000) {
      const wanted = `reply:${message.id}`;
      let found: Message | undefined;
      await waitFor(async () => {
        found = (await harness.messages(user, message.conversationId)).find(
          (m) => m.clientMessageId === wanted,
        );
        return found !== undefined;
      }, timeoutMs);
      return found!;
    },
    async socket(user) {
      const socket: ClientSocket = io(url, {
        auth: { token: user.token },
        transports: ['websocket'],
        reconnection: false,
      });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      return socket;
    },
    async close() {
      for (const socket of sockets) socket.disconnect();
      await app.close();
      await cache.close();
      if (!options.bus) await bus.close();
      if (ownsDatabase) await database.dispose();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

export { waitFor };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
