import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bus, MemoryBus } from '@parley/bus';
import { type Cache, createCache, MemoryCache } from '@parley/cache';
import type { Conversation } from '@parley/contracts';
import { buildIdentity } from '@parley/identity';
import {
  type App,
  type Config,
  createLogger,
  createProcessApp,
  newSecretToken,
  parseConfig,
  resolveInternalToken,
  type ServicePlugin,
} from '@parley/kernel';
import { openPgliteTestDatabase, type TestDatabase } from '@parley/store/testing';
// The production wiring of identity and chat in one process (identity's authenticator handed to chat):
// tests build the app exactly as `npm start` does rather than keeping a copy of it.
import type { Infrastructure } from '../../../../apps/server/src/infrastructure.ts';
import { readyServices } from '../../../../apps/server/src/ready-services.ts';
import { buildServicePlugins } from '../../../../apps/server/src/services.ts';
import { buildChat } from '../../src/build-chat.ts';
import { Accounts, ADMIN, bearer, type TestUser } from './accounts.ts';

export { bearer, type TestUser } from './accounts.ts';

export const logger = createLogger({ level: 'silent' });
export const INTERNAL_TOKEN = 'internal-token-for-tests-0123456789abcdef';

export interface ChatHarness {
  app: App;
  /** Set when started with `listen: true`. */
  url: string;
  database: TestDatabase;
  bus: Bus;
  cache: Cache;
  dataDir: string;
  /** Real users and sessions, through identity's own endpoints. */
  accounts: Accounts;
  /** Registers a user (and, for other roles, has the admin grant it): see Accounts.user. */
  user: Accounts['user'];
  /** Creates a group owned by `owner` through the REST API, as a client would. */
  createGroup(owner: TestUser, memberIds: string[]): Promise<Conversation>;
  /** Opens a support conversation for `customer` through the REST API, as a client would. */
  createSupport(customer: TestUser): Promise<Conversation>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  listen?: boolean;
  /** Another harness whose database, data dir (signing keys), cache and bus this app shares. */
  sharing?: ChatHarness;
  /** Defaults to a private in-memory PGlite. */
  database?: TestDatabase;
  /** Whether closing disposes the database (default: when the harness opened it). */
  ownsDatabase?: boolean;
  bus?: Bus;
  redisUrl?: string;
  /** Shared by harnesses that stand for processes of one cluster (presence, deny list). */
  cachePrefix?: string;
  /** Puts something between this app and its (possibly shared) cache, e.g. to cut it off later. */
  wrapCache?: (cache: Cache) => Cache;
  /** Configuration variables on top of the test defaults. */
  env?: Record<string, string>;
  /**
   * Identity's clock: lets a test hold a token that expires within a second (the shortest configurable
   * lifetime is 30 s). The production wiring has no such seam, so this one case is wired by hand below.
   */
  identityClock?: () => Date;
}

export async function startChat(options: HarnessOptions = {}): Promise<ChatHarness> {
  const shared = options.sharing;
  const database = shared?.database ?? options.database ?? (await openPgliteTestDatabase());
  const ownsDatabase = shared ? false : (options.ownsDatabase ?? options.database === undefined);
  const bus = shared?.bus ?? options.bus ?? new MemoryBus({ logger });
  const unwrapped =
    shared?.cache ??
    (options.redisUrl
      ? createCache({
          redisUrl: options.redisUrl,
          keyPrefix: options.cachePrefix ?? `t${newSecretToken(4)}:`,
        })
      : new MemoryCache());
  const cache = options.wrapCache ? options.wrapCache(unwrapped) : unwrapped;
  const dataDir = shared?.dataDir ?? (await mkdtemp(join(tmpdir(), 'parley-chat-')));
  const config = parseConfig({
    NODE_ENV: 'test',
    PARLEY_DATA_DIR: dataDir,
    PARLEY_SERVICES: 'identity,chat',
    PARLEY_PUBLIC_URL: 'https://parley.test',
    PARLEY_ADMIN_EMAIL: ADMIN.email,
    PARLEY_ADMIN_PASSWORD: ADMIN.password,
    PARLEY_AUTH_RATE_LIMIT: '100000',
    PARLEY_INTERNAL_TOKEN: INTERNAL_TOKEN,
    PARLEY_OUTBOX_POLL_MS: '20',
    PARLEY_SOCKET_RATE_LIMIT: '100000',
    PARLEY_GROUP_MAX_MEMBERS: '5',
    PARLEY_UPLOAD_MAX_BYTES: String(64 * 1024),
    PARLEY_UPLOAD_TYPES: 'image/png,image/jpeg,application/pdf,text/plain',
    // Identity keeps its signing keys in the database when there is one: every "process" verifies alike.
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  });
  const infrastructure: Infrastructure = { database: database.database, cache, bus };
  const app = await createProcessApp({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    corsOrigins: config.corsOrigins,
  });
  const plugins = options.identityClock
    ? await wireWithClock(config, infrastructure, options.identityClock)
    : await buildServicePlugins(config, infrastructure, logger);
  for (const plugin of plugins) await app.register(plugin.plugin);
  await readyServices(app, bus);
  const url = options.listen ? await app.listen({ port: 0, host: '127.0.0.1' }) : '';
  const accounts = new Accounts(app, database.database);

  const createConversation = async (creator: TestUser, payload: object): Promise<Conversation> => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(creator),
      payload,
    });
    if (response.statusCode !== 201)
      throw new Error(`conversation not created: ${response.statusCode} ${response.body}`);
    return response.json() as Conversation;
  };
  return {
    app,
    url,
    database,
    bus,
    cache,
    dataDir,
    accounts,
    user: (role, name) => accounts.user(role, name),
    createGroup: (owner, memberIds) => createConversation(owner, { type: 'group', memberIds }),
    createSupport: (customer) => createConversation(customer, { type: 'support' }),
    async close() {
      await app.close();
      if (shared) return;
      await cache.close();
      if (!options.bus) await bus.close();
      if (ownsDatabase) await database.dispose();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** services.ts's wiring, with identity's clock set: the one thing it cannot be told. */
async function wireWithClock(
  config: Config,
  infrastructure: Infrastructure,
  clock: () => Date,
): Promise<ServicePlugin[]> {
  const identity = await buildIdentity({ config, ...infrastructure, logger, clock });
  const chat = await buildChat({
    config,
    ...infrastructure,
    logger,
    authenticator: identity.authenticator,
    internalToken: await resolveInternalToken(config),
  });
  return [identity.service, chat];
}

export { waitFor } from '@parley/kernel/testing';
