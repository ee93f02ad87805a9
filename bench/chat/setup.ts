import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '@parley/bus';
import { MemoryCache } from '@parley/cache';
import { buildChat, type ChatDeps } from '@parley/chat';
import { IdentityEvents } from '@parley/contracts';
import {
  type App,
  type Authenticator,
  createEvent,
  createLogger,
  createProcessApp,
  newId,
  type Principal,
  unauthorized,
} from '@parley/kernel';
import type { Database } from '@parley/store';

/** Bench-only credentials: a token is the user id it stands for (identity's verifier is measured elsewhere). */
class BenchAuthenticator implements Authenticator {
  readonly known = new Set<string>();
  async authenticate(bearer: string): Promise<Principal> {
    if (!this.known.has(bearer)) throw unauthorized();
    return {
      userId: bearer,
      role: 'user',
      sessionId: `ses_${bearer}`,
      credentialId: bearer,
      kind: 'access_token',
      expiresAt: null,
    };
  }
}

export interface BenchChat {
  app: App;
  url: string;
  /** Creates users in chat's read model (through the bus, as identity does) and returns their tokens. */
  users(count: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function startBenchChat(
  database: Database,
  groupCommit?: ChatDeps['groupCommit'],
): Promise<BenchChat> {
  const logger = createLogger({ level: 'silent' });
  const bus = new MemoryBus({ logger });
  const cache = new MemoryCache();
  const auth = new BenchAuthenticator();
  const app = await createProcessApp({ logger, bodyLimitBytes: 1024 * 1024, corsOrigins: [] });
  const chat = await buildChat({
    config: {
      dataDir: await mkdtemp(join(tmpdir(), 'parley-bench-')),
      redisUrl: undefined,
      socketRateLimit: 10_000_000,
      messageMaxBytes: 16 * 1024,
      groupMaxMembers: 1000,
      uploadMaxBytes: 1024 * 1024,
      uploadTypes: ['text/plain'],
      corsOrigins: [],
      outboxPollMs: 250,
      outboxLeaseMs: 30_000,
    },
    database,
    cache,
    bus,
    logger,
    authenticator: auth,
    internalToken: 'bench-internal-token-0123456789abcdef',
    ...(groupCommit ? { groupCommit } : {}),
  });
  await app.register(chat.plugin);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url,
    async users(count) {
      const ids = Array.from({ length: count }, () => newId('usr'));
      for (const id of ids) {
        const user = {
          id,
          email: `${id}@bench`,
          displayName: id,
          role: 'user',
          avatarUrl: null,
          active: true,
        };
        await bus.publish(createEvent(IdentityEvents.userRegistered, { user }));
      }
      const { sql } = await import('drizzle-orm');
      const { queryRows } = await import('@parley/store');
      for (;;) {
        const [row] = await queryRows<{ n: number }>(
          database.db,
          sql`select count(*)::int as n from chat.users`,
        );
        if ((row?.n ?? 0) >= count) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const id of ids) auth.known.add(id);
      return ids;
    },
    async close() {
      await app.close();
      await bus.close();
      await cache.close();
    },
  };
}
