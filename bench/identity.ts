// Identity benchmark: login throughput next to the raw argon2id rate measured in the same run, and access-token
// verification with and without the verified-token cache. Run: node --import tsx bench/identity.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { hash, verify } from '@node-rs/argon2';
import { MemoryBus } from '@parley/bus';
import { MemoryCache } from '@parley/cache';
import { buildIdentity, DEFAULT_HASH_PARAMETERS } from '@parley/identity';
import { createLogger, createProcessApp, parseConfig, TokenVerifier } from '@parley/kernel';
import { openDatabase } from '@parley/store';
import { relaunchWithShippingFlags, shippingFlagsInUse } from './support/shipping-flags.ts';

await relaunchWithShippingFlags();

const LOGINS = 200;
const HASHES = 80;
const VERIFICATIONS_UNCACHED = 5_000;
const VERIFICATIONS_CACHED = 100_000;
const CONCURRENCY = 4;

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

async function inParallel(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

const rate = (count: number, seconds: number) => `${(count / seconds).toFixed(1).padStart(10)} /s`;

const cpu = cpus()[0];
console.log('Identity benchmark');
console.log(
  `machine: ${availableParallelism()} cores (${cpu?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `node ${process.version} (${shippingFlagsInUse()}), ${process.platform}/${process.arch}; argon2 runs on the libuv thread pool`,
);
console.log(
  `argon2id m=${DEFAULT_HASH_PARAMETERS.memoryCost} KiB t=${DEFAULT_HASH_PARAMETERS.timeCost} p=${DEFAULT_HASH_PARAMETERS.parallelism}; ` +
    `concurrency ${CONCURRENCY}\n`,
);

const options = { ...DEFAULT_HASH_PARAMETERS, algorithm: 2 as const };
const stored = await hash('benchmark passphrase', options);
const hashSerial = await timed(async () => {
  for (let i = 0; i < HASHES / 4; i++) await hash(`password ${i}`, options);
});
const hashParallel = await timed(() =>
  inParallel(HASHES, CONCURRENCY, async (i) => void (await hash(`pw ${i}`, options))),
);
const verifyParallel = await timed(() =>
  inParallel(HASHES, CONCURRENCY, async () => void (await verify(stored, 'benchmark passphrase'))),
);

const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-'));
const config = parseConfig({
  NODE_ENV: 'test',
  PARLEY_DATA_DIR: dataDir,
  PARLEY_AUTH_RATE_LIMIT: '1000000',
  PARLEY_ADMIN_EMAIL: 'bench-admin@example.com',
  PARLEY_ADMIN_PASSWORD: 'bench admin passphrase',
});
const logger = createLogger({ level: 'silent' });
const database = await openDatabase({});
const cache = new MemoryCache();
const bus = new MemoryBus({ logger });
const app = await createProcessApp({ logger, bodyLimitBytes: config.bodyLimitBytes, corsOrigins: [] });
const identity = await buildIdentity({ config, database, cache, bus, logger, announce: () => {} });
await app.register(identity.service.plugin);
await app.ready();

const credentials = { email: 'bench@example.com', password: 'a benchmark passphrase' };
const registered = await app.inject({
  method: 'POST',
  url: '/api/v1/auth/register',
  payload: { ...credentials, displayName: 'Bench' },
});
const accessToken: string = registered.json().accessToken;

let failures = 0;
const loginSeconds = await timed(() =>
  inParallel(LOGINS, CONCURRENCY, async () => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: credentials });
    if (response.statusCode !== 200) failures++;
  }),
);

const uncached = new TokenVerifier({
  keys: identity.keys,
  denyList: identity.denyList,
  issuer: config.jwtIssuer,
  audience: config.jwtAudience,
  cacheSize: 0,
});
const cached = new TokenVerifier({
  keys: identity.keys,
  denyList: identity.denyList,
  issuer: config.jwtIssuer,
  audience: config.jwtAudience,
});
const uncachedSeconds = await timed(async () => {
  for (let i = 0; i < VERIFICATIONS_UNCACHED; i++) await uncached.verify(accessToken);
});
const cachedSeconds = await timed(async () => {
  for (let i = 0; i < VERIFICATIONS_CACHED; i++) await cached.verify(accessToken);
});
const meRequests = 5_000;
const meSeconds = await timed(() =>
  inParallel(meRequests, CONCURRENCY, async () => {
    await app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${accessToken}` },
    });
  }),
);

console.log('password hashing (raw @node-rs/argon2, same run)');
console.log(`  hash, one at a time            ${rate(HASHES / 4, hashSerial)}`);
console.log(`  hash, ${CONCURRENCY} in parallel            ${rate(HASHES, hashParallel)}`);
console.log(`  verify, ${CONCURRENCY} in parallel          ${rate(HASHES, verifyParallel)}`);
console.log('login (POST /api/v1/auth/login through app.inject: argon2 verify + session + EdDSA token)');
console.log(
  `  logins, ${CONCURRENCY} in parallel          ${rate(LOGINS, loginSeconds)}   (${failures} failed)`,
);
console.log(
  `  login / raw verify rate        ${(LOGINS / loginSeconds / (HASHES / verifyParallel)).toFixed(2).padStart(10)}`,
);
console.log('access-token verification (kernel TokenVerifier, deny list checked every time)');
console.log(
  `  without cache (EdDSA verify)   ${rate(VERIFICATIONS_UNCACHED, uncachedSeconds)}   ${((uncachedSeconds / VERIFICATIONS_UNCACHED) * 1e6).toFixed(1)} µs each`,
);
console.log(
  `  with verified-token cache      ${rate(VERIFICATIONS_CACHED, cachedSeconds)}   ${((cachedSeconds / VERIFICATIONS_CACHED) * 1e6).toFixed(1)} µs each`,
);
console.log(`  GET /api/v1/auth/me (inject)   ${rate(meRequests, meSeconds)}`);

await app.close();
await bus.close();
await cache.close();
await database.close();
await rm(dataDir, { recursive: true, force: true });
