// Bots streaming benchmark (issue 6), loopback only, bounded to about two minutes:
//   node --import tsx bench/bots.ts            (embedded PGlite, in-memory cache and bus: `npm start`)
//   DATABASE_URL=postgres://... node --import tsx bench/bots.ts   (the same on PostgreSQL)
// This process runs Parley (chat + bots, as `npm start` does); one child process runs the local streaming
// test provider and every Socket.IO client, so client and provider timestamps share a clock and the
// Parley process is measured on its own.
//  1. Added latency: for one message at a time, the client's time to the first `message:delta` minus the
//     provider's own time to first token. Target: under 5 ms at p50.
//  2. Burst: 200 clients each send one message at once; 200 replies stream in parallel. Each client
//     assembles its deltas by offset and checks the result against the final message: no delta dropped.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBots } from '@parley/bots';
import { MemoryBus } from '@parley/bus';
import { MemoryCache } from '@parley/cache';
import { buildChat } from '@parley/chat';
import {
  type Authenticator,
  createLogger,
  createProcessApp,
  newId,
  type Principal,
  readConfigFromEnvironment,
  unauthorized,
} from '@parley/kernel';
import { openDatabase } from '@parley/store';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { startBareChain } from './bots/bare-chain.ts';
import type {
  BurstResult,
  ClientCommand,
  ClientReply,
  ClientUser,
  LatencyResult,
  Percentiles,
} from './bots/protocol.ts';
import { relaunchWithShippingFlags, shippingFlagsInUse } from './support/shipping-flags.ts';

await relaunchWithShippingFlags();

/** `--clients=N --samples=N` shrink a run for a quick look; the defaults are what the issue asks for. */
const option = (name: string, fallback: number) =>
  Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const CLIENTS = option('clients', 200);
const LATENCY_SAMPLES = option('samples', 100);
/** Pause between latency samples: a person reads a reply before asking again. */
const THINK_MS = 50;
const FIRST_TOKEN_DELAY_MS = 20;
const INTERNAL_TOKEN = newId('tok');

setTimeout(() => {
  console.error('bench/bots.ts: time limit reached');
  process.exit(1);
}, 150_000).unref();

/** Benchmarks need signed-in users, not identity: bearer tokens mapped to principals, as in the tests. */
class BenchAuthenticator implements Authenticator {
  private readonly tokens = new Map<string, Principal>();
  issue(role: Principal['role']): { token: string; userId: string } {
    const userId = newId('usr');
    const token = newId('tok');
    this.tokens.set(token, {
      userId,
      role,
      sessionId: null,
      credentialId: token,
      kind: 'access_token',
      expiresAt: null,
    });
    return { token, userId };
  }
  async authenticate(bearer: string): Promise<Principal> {
    const principal = this.tokens.get(bearer);
    if (!principal) throw unauthorized();
    return principal;
  }
}

class Clients {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: ClientReply) => void>();
  private nextId = 0;
  constructor() {
    this.child = fork(fileURLToPath(new URL('./bots/clients.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
    });
    this.child.on('message', (reply: ClientReply) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
  }
  request<T>(
    command: ClientCommand extends infer C ? (C extends ClientCommand ? Omit<C, 'id'> : never) : never,
  ): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (reply) =>
        reply.ok ? resolve(reply.result as T) : reject(new Error(reply.error)),
      );
      this.child.send({ ...command, id });
    });
  }
  stop(): void {
    this.child.disconnect();
  }
}

const ms = (value: number) => `${value.toFixed(1)} ms`;
const line = (name: string, p: Percentiles) =>
  `  ${name.padEnd(44)} p50 ${ms(p.p50)}  p90 ${ms(p.p90)}  p99 ${ms(p.p99)}`;

const config = readConfigFromEnvironment();
const logger = createLogger({ level: 'warn' });
const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-bots-'));
const test: TestDatabase | undefined = config.databaseUrl
  ? await openPostgresTestDatabase(config.databaseUrl, config.databasePoolSize)
  : undefined;
const database = test?.database ?? (await openDatabase({}));
const cache = new MemoryCache();
const bus = new MemoryBus({ logger });
const auth = new BenchAuthenticator();
const clients = new Clients();
const app = await createProcessApp({ logger, bodyLimitBytes: 1024 * 1024, corsOrigins: [] });
try {
  const chat = await buildChat({
    config: { ...config, dataDir, socketRateLimit: 1_000_000 },
    database,
    cache,
    bus,
    logger,
    authenticator: auth,
    internalToken: INTERNAL_TOKEN,
  });
  const bots = await buildBots({
    config: { ...config, dataDir, egressAllowlist: ['127.0.0.1'], botsDailyTokenQuota: 0 },
    database,
    cache,
    bus,
    logger,
    authenticator: auth,
    internalToken: INTERNAL_TOKEN,
  });
  await app.register(chat.plugin);
  await app.register(bots.plugin);
  await app.ready();
  const url = await app.listen({ port: 0, host: '127.0.0.1' });

  const { baseUrl } = await clients.request<{ baseUrl: string }>({ kind: 'startProvider' });
  const admin = auth.issue('admin');
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/bots',
    headers: { authorization: `Bearer ${admin.token}` },
    payload: {
      name: 'Bench LLM',
      kind: 'llm',
      config: { baseUrl, model: 'bench-model', apiKey: 'sk-bench', contextMessages: 0 },
    },
  });
  const botId = (created.json() as { id: string }).id;
  const users: ClientUser[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const user = auth.issue('user');
    const conversation = await app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: { authorization: `Bearer ${user.token}` },
      payload: { type: 'bot', botId },
    });
    users.push({ token: user.token, conversationId: (conversation.json() as { id: string }).id });
  }
  await clients.request({ kind: 'connect', url, users });

  console.log(
    `conditions: ${availableParallelism()} cores, Node ${process.version} (${shippingFlagsInUse()}), ${database.kind === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'}, in-memory cache and bus (one process, as npm start), loopback; Parley in this process, ${CLIENTS} Socket.IO clients and the streaming test provider in one child process; default coalescing (50 ms / 64 characters)`,
  );

  const measureLatency = () =>
    clients.request<LatencyResult>({
      kind: 'latency',
      samples: LATENCY_SAMPLES,
      warmup: 20,
      firstTokenDelayMs: FIRST_TOKEN_DELAY_MS,
      thinkMs: THINK_MS,
    });
  const latency = await measureLatency();
  console.log(
    `\n1. Time to first delta, one message at a time (${latency.samples} samples after 20 warm-up, ${THINK_MS} ms apart)`,
  );
  console.log(line('added by Parley (first delta − provider TTFT)', latency.added));
  console.log(line('client: send → first delta', latency.firstDelta));
  console.log(
    line(`provider: request → first token (${FIRST_TOKEN_DELAY_MS} ms delay)`, latency.providerFirstToken),
  );
  console.log(line('  of which: send → provider has the request', latency.beforeProvider));
  console.log(line('    (chat alone: send → acknowledged)', latency.ack));
  console.log(line('  of which: provider first token → client', latency.tokenPath));
  console.log(`  target: added p50 < 5 ms → ${latency.added.p50 < 5 ? 'met' : 'NOT met'}`);

  const burst = await clients.request<BurstResult>({
    kind: 'burst',
    tokens: 40,
    tokenDelayMs: 10,
    timeoutMs: 60_000,
  });
  console.log(
    `\n2. ${burst.streams} concurrent streams to ${burst.streams} clients (40 tokens each, 10 ms apart)`,
  );
  console.log(`  final messages received: ${burst.completed}/${burst.streams}`);
  console.log(`  streams whose deltas rebuild the final text exactly: ${burst.intact}/${burst.streams}`);
  console.log(
    `  deltas received: ${burst.deltas} (${(burst.deltas / burst.streams).toFixed(1)} per stream), gaps: ${burst.gaps}, arrived out of order: ${burst.reordered}`,
  );
  console.log(
    `  streams that rebuild exactly once their deltas are sorted by offset: ${burst.intactSorted}/${burst.streams}`,
  );
  console.log(line('  client: send → first delta', burst.firstDelta));
  console.log(`  all ${burst.streams} replies complete after ${ms(burst.durationMs)}`);
  const ok = burst.intact === burst.streams && burst.gaps === 0;
  console.log(`  no dropped deltas → ${ok ? 'met' : 'NOT met'}`);

  // The floor: the same sends and the same provider through the barest chain that keeps the promises.
  const bare = await startBareChain(database, baseUrl);
  try {
    await clients.request({ kind: 'reconnect', url: bare.url, users });
    const floor = await measureLatency();
    console.log(
      `\n3. The floor (bench/bots/bare-chain.ts): one statement stores the send, one write claims the reply, undici asks the provider, the first token goes straight to the socket (${floor.samples} samples, as in 1.)`,
    );
    console.log(line('added by the bare chain', floor.added));
    console.log(line('  of which: send → acknowledged', floor.ack));
    console.log(line('  of which: send → provider has the request', floor.beforeProvider));
    console.log(line('  of which: provider first token → client', floor.tokenPath));
    console.log(
      `  Parley adds ${ms(latency.added.p50 - floor.added.p50)} at p50 over the floor; the target (5 ms) is ${(5 / floor.added.p50).toFixed(2)}x the floor`,
    );
  } finally {
    await bare.close();
  }
  await clients.request({ kind: 'stop' });
} finally {
  clients.stop();
  await app.close();
  await cache.close();
  await bus.close();
  if (test) await test.dispose();
  else await database.close();
  await rm(dataDir, { recursive: true, force: true });
}
