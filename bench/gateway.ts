// `npm run bench gateway`: an authenticated GET /api/v1/auth/me (a) straight to an identity process, (b)
// through the Parley gateway in distributed mode, (c) through nginx as a plain reverse proxy, all on
// loopback, and (d) through the barest Node proxy (bench/gateway/bare-node-proxy.ts): what any Node gateway
// pays on this machine before its own work. Targets: the gateway keeps at least 80% of the direct throughput
// and adds under 1 ms at p50.
// Uses DATABASE_URL (a throwaway database) and REDIS_URL when set; otherwise PGlite and in-memory caches.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfigFromEnvironment } from '@parley/kernel';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { type ParleyProcess, startParleyProcess } from '../apps/server/src/cluster/parley-process.ts';
import { type LoadResult, runLoad } from './support/load.ts';
import { median } from './support/median.ts';
import { startNginx } from './support/nginx.ts';
import { processTreeCpuMs } from './support/process-cpu.ts';
import { hasWrk, runWrk } from './support/wrk.ts';

const THROUGHPUT = { concurrency: 32, warmupMs: 2000, durationMs: 6000 };
const LATENCY = { concurrency: 1, warmupMs: 500, durationMs: 3000 };
/** This machine's throughput drifts by ±25% over minutes: each round compares runs seconds apart. */
const ROUNDS = 4;

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
const [identityPort, gatewayPort, nginxPort, bareProxyPort] = [
  await freePort(),
  await freePort(),
  await freePort(),
  await freePort(),
];
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
let bareProxy: ChildProcess | undefined;
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
  bareProxy = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./gateway/bare-node-proxy.ts', import.meta.url).pathname,
      String(bareProxyPort),
      identity.spec.url,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  // A child that dies before listening (port taken, bad arguments) must fail the bench, not hang it.
  const exited = once(bareProxy, 'exit').then(([code]) => {
    throw new Error(`the bare Node proxy exited with ${code} before listening`);
  });
  exited.catch(() => {});
  await Promise.race([once(bareProxy, 'message', { signal: AbortSignal.timeout(30_000) }), exited]);

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

  interface Target {
    name: string;
    url: string;
    /** The proxy's process (nginx: the master, whose workers are counted with it). */
    proxyPid: number | undefined;
  }
  const targets: Target[] = [
    { name: '(a) direct to identity', url: identity.spec.url, proxyPid: undefined },
    { name: '(b) Parley gateway', url: gateway.spec.url, proxyPid: gateway.child.pid },
  ];
  if (nginx) targets.push({ name: '(c) nginx', url: nginx.url, proxyPid: nginx.pid });
  else console.log('nginx not found: install it (apt-get install -y nginx) for the (c) comparison');
  targets.push({
    name: '(d) bare Node proxy',
    url: `http://127.0.0.1:${bareProxyPort}`,
    proxyPid: bareProxy.pid,
  });

  // wrk when installed: a Node load generator would take the core the gateway needs (identity, single-
  // threaded, uses one; the gateway runs on the other).
  const wrk = hasWrk();
  if (!wrk) console.log('wrk not found (apt-get install -y wrk): throughput is driven from Node instead');
  const loadWith = wrk ? runWrk : runLoad;
  const identityPid = identity.child.pid ?? 0;
  const cpuPerRequestUs = (pid: number | undefined, before: number | undefined, requests: number) => {
    const after = pid === undefined ? undefined : processTreeCpuMs(pid);
    return after === undefined || before === undefined ? Number.NaN : ((after - before) * 1000) / requests;
  };
  interface Round {
    load: LoadResult;
    idle: LoadResult;
    identityUs: number;
    proxyUs: number;
  }
  const results = new Map<string, Round[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name, url, proxyPid } of targets) {
      let identityBefore: number | undefined;
      let proxyBefore: number | undefined;
      const load = await loadWith({
        url,
        path: '/api/v1/auth/me',
        headers,
        ...THROUGHPUT,
        onMeasuring: () => {
          identityBefore = processTreeCpuMs(identityPid);
          proxyBefore = proxyPid === undefined ? undefined : processTreeCpuMs(proxyPid);
        },
      });
      const entry = results.get(name) ?? [];
      entry.push({
        load,
        identityUs: cpuPerRequestUs(identityPid, identityBefore, load.requests),
        proxyUs: cpuPerRequestUs(proxyPid, proxyBefore, load.requests),
        idle: await runLoad({ url, path: '/api/v1/auth/me', headers, ...LATENCY }),
      });
      results.set(name, entry);
    }
  }

  const directRounds = results.get(targets[0]?.name ?? '') ?? [];
  const summary = [...results].map(([name, rounds]) => ({
    name,
    rps: median(rounds.map((r) => r.load.rps)),
    // Against the direct run of the same round, seconds before: the drift between rounds cancels out.
    shares: rounds.map((r, i) => r.load.rps / (directRounds[i]?.load.rps ?? Number.NaN)),
    loadedP50: median(rounds.map((r) => r.load.p50)),
    loadedP99: median(rounds.map((r) => r.load.p99)),
    idleP50: median(rounds.map((r) => r.idle.p50)),
    idleP99: median(rounds.map((r) => r.idle.p99)),
    identityUs: median(rounds.map((r) => r.identityUs)),
    proxyUs: median(rounds.map((r) => r.proxyUs)),
    errors: rounds.reduce((sum, r) => sum + r.load.errors + r.idle.errors, 0),
  }));
  console.log(
    `\nGET /api/v1/auth/me, authenticated; ${cpus().length} CPUs shared by load generator, identity, gateway and nginx; ` +
      `database ${database ? 'PostgreSQL' : 'PGlite'}, cache ${config.redisUrl ? 'Redis' : 'in memory'}; ` +
      `throughput: ${THROUGHPUT.concurrency} connections × ${THROUGHPUT.durationMs / 1000} s (${wrk ? 'wrk, 1 thread' : 'Node undici'}), latency: 1 connection × ` +
      `${LATENCY.durationMs / 1000} s; medians of ${ROUNDS} rounds; CPU per request from /proc during the throughput runs\n`,
  );
  const pad = (text: string, width: number) => text.padEnd(width);
  const us = (value: number) => (Number.isNaN(value) ? '–' : `${value.toFixed(0)} µs`);
  console.log(
    `${pad('target', 26)}${pad('req/s', 9)}${pad('p50 load', 11)}${pad('p99 load', 11)}${pad('p50 idle', 11)}${pad('p99 idle', 11)}` +
      `${pad('proxy CPU', 11)}${pad('identity CPU', 14)}errors`,
  );
  for (const row of summary) {
    console.log(
      `${pad(row.name, 26)}${pad(row.rps.toFixed(0), 9)}${pad(`${row.loadedP50.toFixed(2)} ms`, 11)}${pad(`${row.loadedP99.toFixed(2)} ms`, 11)}` +
        `${pad(`${row.idleP50.toFixed(3)} ms`, 11)}${pad(`${row.idleP99.toFixed(3)} ms`, 11)}${pad(us(row.proxyUs), 11)}${pad(us(row.identityUs), 14)}${row.errors}`,
    );
  }
  const rounds = (shares: number[]) => shares.map((share) => `${(share * 100).toFixed(0)}%`).join(' / ');
  const [direct, viaGateway] = summary;
  const viaNginx = summary.find((row) => row.name === '(c) nginx');
  const viaBareProxy = summary.find((row) => row.name === '(d) bare Node proxy');
  if (direct && viaGateway) {
    const share = median(viaGateway.shares);
    const added = viaGateway.idleP50 - direct.idleP50;
    console.log(
      `\ngateway: ${(share * 100).toFixed(1)}% of direct throughput [rounds ${rounds(viaGateway.shares)}] (target ≥ 80%: ${share >= 0.8 ? 'met' : 'NOT met'}), ` +
        `+${added.toFixed(3)} ms at p50 unloaded (target < 1 ms: ${added < 1 ? 'met' : 'NOT met'})`,
    );
    if (viaNginx) {
      console.log(
        `nginx:   ${(median(viaNginx.shares) * 100).toFixed(1)}% of direct throughput [rounds ${rounds(viaNginx.shares)}], ` +
          `+${(viaNginx.idleP50 - direct.idleP50).toFixed(3)} ms at p50 unloaded`,
      );
    }
    if (viaBareProxy) {
      console.log(
        `bare Node proxy: ${(median(viaBareProxy.shares) * 100).toFixed(1)}% of direct throughput [rounds ${rounds(viaBareProxy.shares)}], ` +
          `+${(viaBareProxy.idleP50 - direct.idleP50).toFixed(3)} ms at p50 unloaded; the gateway's edge work costs ` +
          `${(viaGateway.proxyUs - viaBareProxy.proxyUs).toFixed(0)} µs of CPU per request on top of it`,
      );
    }
  }
} finally {
  bareProxy?.kill('SIGTERM');
  await stopNginx?.();
  await Promise.all(processes.map((child) => child.stop(10_000)));
  await database?.dispose();
  await rm(dataDir, { recursive: true, force: true });
}
