import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '@parley/bus';
import { MemoryCache } from '@parley/cache';
import { type App, createLogger, createProcessApp, type EventEnvelope, parseConfig } from '@parley/kernel';
import { readFileInbox } from '@parley/mailer/testing';
import { openPgliteTestDatabase, type TestDatabase } from '@parley/store/testing';
import type { LightMyRequestResponse as InjectResponse } from 'fastify';
import { buildIdentity, type Identity } from '../src/index.ts';

export const ADMIN = { email: 'root@example.com', password: 'correct horse battery staple' };

export interface Harness {
  app: App;
  identity: Identity;
  cache: MemoryCache;
  dataDir: string;
  events: EventEnvelope[];
  announced: string[];
  /** Mails written by the file transport, after the mail relay has sent everything queued. */
  mails(): Promise<{ to: string; subject: string; text: string }[]>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  /** Defaults to a private in-memory PGlite. */
  openDatabase?: () => Promise<TestDatabase>;
  clock?: () => Date;
  keyStorage?: 'file' | 'database';
  dataDir?: string;
}

/** Identity built exactly as the server builds it: process app, real store, memory cache and bus. */
export async function startIdentity(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'parley-identity-')));
  const config = parseConfig({
    NODE_ENV: 'test',
    PARLEY_DATA_DIR: dataDir,
    PARLEY_PUBLIC_URL: 'https://parley.test',
    PARLEY_AUTH_RATE_LIMIT: '1000',
    PARLEY_ADMIN_EMAIL: ADMIN.email,
    PARLEY_ADMIN_PASSWORD: ADMIN.password,
    PARLEY_OUTBOX_POLL_MS: '20',
    ...options.env,
  });
  const logger = createLogger({ level: 'silent' });
  const test = await (options.openDatabase ?? openPgliteTestDatabase)();
  const cache = new MemoryCache();
  const bus = new MemoryBus({ logger });
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    group: `test-${randomUUID()}`,
    subjects: ['identity.>'],
    handler: async (event) => {
      events.push(event);
    },
  });
  const announced: string[] = [];
  const app = await createProcessApp({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    corsOrigins: config.corsOrigins,
  });
  const identity = await buildIdentity({
    config,
    database: test.database,
    cache,
    bus,
    logger,
    announce: (text) => announced.push(text),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.keyStorage ? { keyStorage: options.keyStorage } : {}),
  });
  await app.register(identity.service.plugin);
  await app.ready();
  return {
    app,
    identity,
    cache,
    dataDir,
    events,
    announced,
    mails: async () => {
      await identity.flush();
      return readFileInbox(join(dataDir, 'mail'));
    },
    close: async () => {
      await app.close();
      await bus.close();
      await cache.close();
      await test.dispose();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Account {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

let counter = 0;

export function uniqueEmail(label = 'user'): string {
  counter += 1;
  return `${label}.${counter}.${randomUUID().slice(0, 8)}@example.com`;
}

export async function register(
  app: App,
  overrides: Partial<{ email: string; password: string; displayName: string }> = {},
): Promise<Account> {
  const body = {
    email: overrides.email ?? uniqueEmail(),
    password: overrides.password ?? 'a perfectly fine passphrase',
    displayName: overrides.displayName ?? 'Test User',
  };
  const response = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: body });
  if (response.statusCode !== 201)
    throw new Error(`register failed: ${response.statusCode} ${response.body}`);
  const json = response.json();
  return {
    id: json.user.id,
    email: json.user.email,
    password: body.password,
    accessToken: json.accessToken,
    refreshToken: json.refreshToken,
    sessionId: json.sessionId,
  };
}

export async function login(app: App, email: string, password: string): Promise<Account> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password },
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  const json = response.json();
  return {
    id: json.user.id,
    email: json.user.email,
    password,
    accessToken: json.accessToken,
    refreshToken: json.refreshToken,
    sessionId: json.sessionId,
  };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

export function me(app: App, token: string): Promise<InjectResponse> {
  return app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
}

/** Asserts a problem+json answer with the given status and code. */
export function problemOf(response: InjectResponse): {
  status: number;
  code: string;
  [key: string]: unknown;
} {
  if (!String(response.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${response.statusCode} ${response.body}`);
  }
  return response.json();
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function tokenFromMail(text: string): string {
  const match = /token=([A-Za-z0-9_%-]+)/.exec(text);
  if (!match?.[1]) throw new Error(`no token in mail: ${text}`);
  return decodeURIComponent(match[1]);
}
