// `npm run bench gateway`: an authenticated GET /api/v1/auth/me (a) straight to an identity process, (b)
// through the Parley gateway in distributed mode, (c) through nginx as a plain reverse proxy, all on
// loopback. Targets: the gateway keeps at least 80% of the direct throughput and adds under 1 ms at p50.
// Uses DATABASE_URL (a throwaway database) and REDIS_URL when set; otherwise PGlite and in-memory caches.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfigFromEnvironment } from '@parley/kernel';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { type ParleyProcess, startParleyProcess } from '../apps/server/src/cluster/parley-process.ts';
import { type LoadResult, runLoad } from './support/load.ts';
import { startNginx } from './support/nginx.ts';
import { hasWrk, runWrk } from './support/wrk.ts';

const THROUGHPUT = { concurrency: 32, warmupMs: 2000, durationMs: 8000 };
const LATENCY = { concurrency: 1, warmupMs: 500, durationMs: 4000 };
const ROUNDS = 2;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const config = readConfigFromEnvironment();
const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-'));
const database: TestDatabase | undefined = config.databaseUrl
  ? await openPostgresTestDatabase(config.databaseUrl, 1)
  : undefined;
const [identityPort, gatewayPort, nginxPort] = [await freePort(), await freePort(), await freePort()];
const publicUrl = `http://localhost:${gatewayPort}`;
const shared: Record<string, string> = {
  PARLEY_DATA_DIR: dataDir,
  PARLEY_PUBLIC_URL: publicUrl,
  PARLEY_INTERNAL_TOKEN: 'bench-internal-token-0123456789abcdef0123',
  // Request logging off in every process alike: the figures are about proxying, not log I/O.
  LOG_LEVEL: 'warn',
  ...(database?.url ? { DATABASE_URL: database.url } : {}),
  ...(config.redisUrl ? { REDIS_URL: config.redisUrl, PARLEY_CACHE_PREFIX: `bench${identityPort}:` } : {}),
};

const processes: ParleyProcess[] = [];
let stopNginx: (() => Promise<void>) | undefined;
try {
  const identity = startParleyProcess({
    name: 'identity',
    url: `http://127.0.0.1:${identityPort}`,
    env: { ...shared, PORT: String(identityPort), HOST: '127.0.0.1', PARLEY_SERVICES: 'identity' },
  });
  processes.push(identity);
  await identity.waitFor('/ready', 60_000);
  const gateway = startParleyProcess({
    name: 'gateway',
    url: `http://127.0.0.1:${gatewayPort}`,
    env: {
      ...shared,
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      PARLEY_SERVICES: 'gateway',
      PARLEY_UPSTREAM_IDENTITY: identity.spec.url,
      // Counted on every request like in production, but never reached.
      PARLEY_RATE_LIMIT: '1000000000',
    },
  });
  processes.push(gateway);
  await gateway.waitFor('/ready', 60_000);
  const nginx = await startNginx(nginxPort, identityPort);
  stopNginx = nginx?.stop;

  const registered = await fetch(`${identity.spec.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: 'bench@example.com',
      password: 'a long bench passphrase',
      displayName: 'Bench',
    }),
  });
  const { accessToken } = (await registered.json()) as { accessToken: string };
  const headers = { authorization: `Bearer ${accessToken}` };
  const check = await fetch(`${gateway.spec.url}/api/v1/auth/me`, { headers });
  if (check.status !== 200) throw new Error(`GET /me through the gateway answered ${check.status}`);

  const targets: Array<[string, string]> = [
    ['(a) direct to identity', identity.spec.url],
    ['(b) Parley gateway', gateway.spec.url],
  ];
  if (nginx) targets.push(['(c) nginx', nginx.url]);
  else console.log('nginx not found: install it (apt-get install -y nginx) for the (c) comparison');

  // wrk when installed: a Node load generator would take the core the gateway needs (identity, single-
  // threaded, uses one; the gateway runs on the other).
  const wrk = hasWrk();
  if (!wrk) console.log('wrk not found (apt-get install -y wrk): throughput is driven from Node instead');
  const loadWith = wrk ? runWrk : runLoad;
  const results = new Map<string, { load: LoadResult[]; idle: LoadResult[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, url] of targets) {
      const entry = results.get(name) ?? { load: [], idle: [] };
      entry.load.push(await loadWith({ url, path: '/api/v1/auth/me', headers, ...THROUGHPUT }));
      entry.idle.push(await runLoad({ url, path: '/api/v1/auth/me', headers, ...LATENCY }));
      results.set(name, entry);
    }
  }

  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const summary = [...results].map(([name, { load, idle }]) => ({
    name,
    rps: mean(load.map((r) => r.rps)),
    loadedP50: mean(load.map((r) => r.p50)),
    loadedP99: mean(load.map((r) => r.p99)),
    idleP50: mean(idle.map((r) => r.p50)),
    idleP99: mean(idle.map((r) => r.p99)),
    errors: [...load, ...idle].reduce((sum, r) => sum + r.errors, 0),
  }));
  console.log(
    `\nGET /api/v1/auth/me, authenticated; ${cpus().length} CPUs shared by load generator, identity, gateway and nginx; ` +
      `database ${database ? 'PostgreSQL' : 'PGlite'}, cache ${config.redisUrl ? 'Redis' : 'in memory'}; ` +
      `throughput: ${THROUGHPUT.concurrency} connections × ${THROUGHPUT.durationMs / 1000} s (${wrk ? 'wrk, 1 thread' : 'Node undici'}), latency: 1 connection × ` +
      `${LATENCY.durationMs / 1000} s; mean of ${ROUNDS} rounds\n`,
  );
  const pad = (text: string, width: number) => text.padEnd(width);
  console.log(
    `${pad('target', 26)}${pad('req/s', 10)}${pad('p50 load', 11)}${pad('p99 load', 11)}${pad('p50 idle', 11)}${pad('p99 idle', 11)}errors`,
  );
  for (const row of summary) {
    console.log(
      `${pad(row.name, 26)}${pad(row.rps.toFixed(0), 10)}${pad(`${row.loadedP50.toFixed(2)} ms`, 11)}${pad(`${row.loadedP99.toFixed(2)} ms`, 11)}` +
        `${pad(`${row.idleP50.toFixed(3)} ms`, 11)}${pad(`${row.idleP99.toFixed(3)} ms`, 11)}${row.errors}`,
    );
  }
  const [direct, viaGateway, viaNginx] = summary;
  if (direct && viaGateway) {
    const share = viaGateway.rps / direct.rps;
    const added = viaGateway.idleP50 - direct.idleP50;
    console.log(
      `\ngateway: ${(share * 100).toFixed(1)}% of direct throughput (target ≥ 80%: ${share >= 0.8 ? 'met' : 'NOT met'}), ` +
        `+${added.toFixed(3)} ms at p50 unloaded (target < 1 ms: ${added < 1 ? 'met' : 'NOT met'})`,
    );
    if (viaNginx) {
      console.log(
        `nginx:   ${((viaNginx.rps / direct.rps) * 100).toFixed(1)}% of direct throughput, ` +
          `+${(viaNginx.idleP50 - direct.idleP50).toFixed(3)} ms at p50 unloaded`,
      );
    }
  }
} finally {
  await stopNginx?.();
  await Promise.all(processes.map((child) => child.stop(10_000)));
  await database?.dispose();
  await rm(dataDir, { recursive: true, force: true });
}
