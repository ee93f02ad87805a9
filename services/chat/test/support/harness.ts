import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bus, MemoryBus } from '@parley/bus';
import { type Cache, createCache, MemoryCache } from '@parley/cache';
import { IdentityEvents, type UserSnapshot } from '@parley/contracts';
import {
  type App,
  type Authenticator,
  createEvent,
  createLogger,
  createProcessApp,
  newId,
  newSecretToken,
  type Principal,
  type Role,
  unauthorized,
} from '@parley/kernel';
import { openPgliteTestDatabase, type TestDatabase } from '@parley/store/testing';
import { eq } from 'drizzle-orm';
import { buildChat, type ChatDeps } from '../../src/build-chat.ts';
import { users } from '../../src/schema/schema.ts';

export const logger = createLogger({ level: 'silent' });
export const INTERNAL_TOKEN = 'internal-token-for-tests-0123456789abcdef';

/**
 * Stands in for identity's verifier: tokens are opaque strings mapped to principals, revocable and
 * expiring, so tests can drive every authentication path the real one has.
 */
export class TestAuthenticator implements Authenticator {
  private readonly tokens = new Map<string, Principal>();

  issue(userId: string, role: Role, options: { sessionId?: string; ttlMs?: number } = {}): string {
    const token = `tok_${newSecretToken(12)}`;
    this.tokens.set(token, {
      userId,
      role,
      sessionId: options.sessionId ?? newId('ses'),
      credentialId: newId('jti'),
      kind: 'access_token',
      expiresAt: Date.now() + (options.ttlMs ?? 15 * 60_000),
    });
    return token;
  }

  revoke(token: string): void {
    this.tokens.delete(token);
  }

  principal(token: string): Principal {
    return this.tokens.get(token)!;
  }

  async authenticate(bearer: string): Promise<Principal> {
    const principal = this.tokens.get(bearer);
    if (!principal) throw unauthorized('The bearer credential is not valid.', 'invalid_token');
    if (principal.expiresAt !== null && principal.expiresAt <= Date.now()) {
      throw unauthorized('The access token has expired.', 'token_expired');
    }
    return principal;
  }
}

export interface TestUser {
  id: string;
  role: Role;
  token: string;
  sessionId: string;
}

export interface ChatHarness {
  app: App;
  /** Set when started with `listen: true`. */
  url: string;
  database: TestDatabase;
  bus: Bus;
  cache: Cache;
  auth: TestAuthenticator;
  /** A user identity has announced (through the bus, as identity does) and chat's read model holds. */
  user(role?: Role, name?: string): Promise<TestUser>;
  publish(type: string, data: unknown): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  database?: TestDatabase;
  listen?: boolean;
  redisUrl?: string;
  bus?: Bus;
  auth?: TestAuthenticator;
  config?: Partial<ChatDeps['config']>;
  groupCommit?: ChatDeps['groupCommit'];
  supportBotId?: string;
  /** Whether closing disposes the database (default: when the harness opened it). */
  ownsDatabase?: boolean;
}

export async function startChat(options: HarnessOptions = {}): Promise<ChatHarness> {
  const database = options.database ?? (await openPgliteTestDatabase());
  const ownsDatabase = options.ownsDatabase ?? options.database === undefined;
  const bus = options.bus ?? new MemoryBus({ logger });
  const cache = options.redisUrl
    ? createCache({ redisUrl: options.redisUrl, keyPrefix: `t${newSecretToken(4)}:` })
    : new MemoryCache();
  const auth = options.auth ?? new TestAuthenticator();
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-chat-'));
  const app = await createProcessApp({ logger, bodyLimitBytes: 1024 * 1024, corsOrigins: [] });
  const chat = await buildChat({
    config: {
      dataDir,
      redisUrl: options.redisUrl,
      socketRateLimit: 100_000,
      messageMaxBytes: 16 * 1024,
      groupMaxMembers: 5,
      uploadMaxBytes: 64 * 1024,
      uploadTypes: ['image/png', 'image/jpeg', 'application/pdf', 'text/plain'],
      corsOrigins: [],
      outboxPollMs: 50,
      ...options.config,
    },
    database: database.database,
    cache,
    bus,
    logger,
    authenticator: auth,
    internalToken: INTERNAL_TOKEN,
    ...(options.supportBotId ? { supportBotId: options.supportBotId } : {}),
    ...(options.groupCommit ? { groupCommit: options.groupCommit } : {}),
  });
  await app.register(chat.plugin);
  await app.ready();
  const url = options.listen ? await app.listen({ port: 0, host: '127.0.0.1' }) : '';

  const publish = async (type: string, data: unknown) => {
    await bus.publish(createEvent(type, data, { actor: { type: 'service', id: 'identity' } }));
  };

  return {
    app,
    url,
    database,
    bus,
    cache,
    auth,
    publish,
    async user(role: Role = 'user', name?: string) {
      const id = newId('usr');
      const snapshot: UserSnapshot = {
        id,
        email: `${id}@example.com`,
        displayName: name ?? `User ${id.slice(-4)}`,
        role,
        avatarUrl: null,
        active: true,
      };
      await publish(IdentityEvents.userRegistered, { user: snapshot });
      await waitFor(
        async () => (await database.database.db.select().from(users).where(eq(users.id, id))).length > 0,
      );
      const sessionId = newId('ses');
      return { id, role, sessionId, token: auth.issue(id, role, { sessionId }) };
    },
    async close() {
      await app.close();
      await cache.close();
      if (!options.bus) await bus.close();
      if (ownsDatabase) await database.dispose();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function bearer(user: TestUser): Record<string, string> {
  return { authorization: `Bearer ${user.token}` };
}
