import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_UPLOAD_TYPES, parseConfig, SERVICE_NAMES } from '../src/config.ts';
import { compileProxyTrust } from '../src/forwarded-client.ts';
import { resolveInternalToken } from '../src/internal-token.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env, '/srv/parley');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  it('has safe embedded defaults for npm start', () => {
    const config = parseConfig({}, '/srv/parley');
    assert.equal(config.port, 8080);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.dataDir, '/srv/parley/data');
    assert.deepEqual([...config.services], [...SERVICE_NAMES]);
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.natsUrl, undefined);
    assert.equal(config.rateLimit, 600);
    assert.equal(config.authRateLimit, 10);
    assert.equal(config.socketRateLimit, 1200);
    assert.equal(config.mailTransport, 'file');
    assert.deepEqual(config.egressAllowlist, []);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.eventRetentionDays, 7);
  });

  it('reads every documented variable', () => {
    const config = parseConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      PARLEY_DATA_DIR: '/var/lib/parley',
      PARLEY_SERVICES: 'gateway,chat',
      PARLEY_UPSTREAM_CHAT: 'http://chat-a:8080, http://chat-b:8080',
      DATABASE_URL: 'postgres://u@db/parley',
      REDIS_URL: 'redis://cache:6379',
      NATS_URL: 'nats://bus:4222',
      PARLEY_ADMIN_EMAIL: 'root@example.com',
      PARLEY_ADMIN_PASSWORD: 'a long passphrase',
      PARLEY_RATE_LIMIT: '100',
      PARLEY_AUTH_RATE_LIMIT: '5',
      PARLEY_SOCKET_RATE_LIMIT: '50',
      PARLEY_MAIL_TRANSPORT: 'smtp://mail:25',
      PARLEY_EGRESS_ALLOWLIST: 'ollama.local, 10.0.0.0/8',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: 'http://localhost:11434/v1',
      LOG_LEVEL: 'debug',
      PARLEY_EVENT_RETENTION_DAYS: '30',
      PARLEY_METRICS_TOKEN: 'scrape-token-0123456789',
      PARLEY_OUTBOX_LEASE_MS: '5000',
    });
    assert.equal(config.port, 9000);
    assert.equal(config.dataDir, '/var/lib/parley');
    assert.deepEqual([...config.services].sort(), ['chat', 'gateway']);
    assert.deepEqual(config.upstreams.chat, ['http://chat-a:8080', 'http://chat-b:8080']);
    assert.equal(config.databaseUrl, 'postgres://u@db/parley');
    assert.equal(config.redisUrl, 'redis://cache:6379');
    assert.equal(config.natsUrl, 'nats://bus:4222');
    assert.equal(config.authRateLimit, 5);
    assert.equal(config.mailTransport, 'smtp://mail:25');
    assert.deepEqual(config.egressAllowlist, ['ollama.local', '10.0.0.0/8']);
    assert.equal(config.openaiBaseUrl, 'http://localhost:11434/v1');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.eventRetentionDays, 30);
    assert.equal(config.metricsToken, 'scrape-token-0123456789');
    assert.equal(config.outboxLeaseMs, 5000);
  });

  it('keeps committed events a process’s own for 30 s unless told otherwise, and at least a second', () => {
    assert.equal(parseConfig({}).outboxLeaseMs, 30_000);
    // Shorter, and a process still publishing (a slow bus) would be overtaken by a relay.
    assert.match(problemsOf({ PARLEY_OUTBOX_LEASE_MS: '200' }).join(), /PARLEY_OUTBOX_LEASE_MS/);
  });

  it('leaves /metrics open unless PARLEY_METRICS_TOKEN is set, and wants a guessable one refused', () => {
    assert.equal(parseConfig({}).metricsToken, undefined);
    assert.equal(parseConfig({ PARLEY_METRICS_TOKEN: '  ' }).metricsToken, undefined);
    assert.match(problemsOf({ PARLEY_METRICS_TOKEN: 'short' }).join(), /PARLEY_METRICS_TOKEN.*at least 16/);
    // A bearer ends at the first space: such a token could never be presented, /metrics would refuse all.
    assert.match(
      problemsOf({ PARLEY_METRICS_TOKEN: 'my scrape token 2024' }).join(),
      /PARLEY_METRICS_TOKEN must not contain whitespace/,
    );
  });

  it('names the variable and what it expects when a value is wrong', () => {
    const [problem] = problemsOf({ PORT: 'abc' });
    assert.match(problem ?? '', /^PORT must be an integer from 0 to 65535 \(got "abc"\)$/);
  });

  it('takes proxy trust as true, false or addresses, and refuses what the proxy check could not compile', () => {
    const accepted = '127.0.0.1, 10.0.0.0/8, 10.0.0.0/255.0.0.0, ::1, fc00::/7, loopback, uniquelocal';
    const trustProxy = parseConfig({ PARLEY_TRUST_PROXY: accepted }, '/srv/parley').trustProxy;
    assert.ok(Array.isArray(trustProxy) && trustProxy.length === 7);
    assert.doesNotThrow(() => compileProxyTrust(trustProxy));
    assert.equal(parseConfig({ PARLEY_TRUST_PROXY: 'true' }, '/srv/parley').trustProxy, true);
    for (const bad of [
      'foo',
      '10.0.0.0/33',
      '10.0.0.1/8/8',
      '::1/129',
      'fc00::/ffff::',
      '0.0.0.0/0',
      '::/0',
      '10.0.0.0/255.0.255.0',
    ]) {
      const [problem] = problemsOf({ PARLEY_TRUST_PROXY: `127.0.0.1,${bad}` });
      assert.match(
        problem ?? '',
        new RegExp(
          `^PARLEY_TRUST_PROXY must be true, false, or addresses .*\\(got "${bad.replaceAll('.', '\\.')}"\\)$`,
        ),
      );
      assert.throws(() => compileProxyTrust(['127.0.0.1', bad]), TypeError, bad);
    }
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({
      PORT: '70000',
      PARLEY_SERVICES: 'chat,mail',
      DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
      PARLEY_MAIL_TRANSPORT: 'pigeon',
      PARLEY_RATE_LIMIT: '1.5',
      PARLEY_EVENT_RETENTION_DAYS: '0',
    });
    for (const name of [
      'PORT',
      'PARLEY_SERVICES',
      'DATABASE_URL',
      'LOG_LEVEL',
      'PARLEY_MAIL_TRANSPORT',
      'PARLEY_RATE_LIMIT',
      'PARLEY_EVENT_RETENTION_DAYS',
    ]) {
      assert.ok(
        problems.some((problem) => problem.startsWith(name)),
        `${name} missing from ${problems.join('; ')}`,
      );
    }
  });

  it('wants the admin email and password together', () => {
    assert.match(problemsOf({ PARLEY_ADMIN_EMAIL: 'a@b.c' }).join(), /set together/);
  });

  it('refuses insecure production settings', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PARLEY_CORS_ORIGINS: '*' });
    assert.ok(problems.some((problem) => problem.includes('PARLEY_CORS_ORIGINS')));
    assert.ok(problems.some((problem) => problem.includes('DATABASE_URL')));
    assert.doesNotThrow(() =>
      parseConfig({
        NODE_ENV: 'production',
        PARLEY_DATA_DIR: '/var/lib/parley',
        PARLEY_CORS_ORIGINS: 'https://x.y',
        PARLEY_INTERNAL_TOKEN: 'x'.repeat(32),
      }),
    );
  });

  it('has chat limits with safe defaults and reads their variables', () => {
    const defaults = parseConfig({}, '/srv/parley');
    assert.equal(defaults.messageMaxBytes, 16384);
    assert.equal(defaults.groupMaxMembers, 256);
    assert.equal(defaults.uploadMaxBytes, 10 * 1024 * 1024);
    assert.deepEqual(defaults.uploadTypes, [...DEFAULT_UPLOAD_TYPES]);
    assert.equal(defaults.internalToken, undefined);
    const set = parseConfig({
      PARLEY_MESSAGE_MAX_BYTES: '100',
      PARLEY_GROUP_MAX_MEMBERS: '3',
      PARLEY_UPLOAD_MAX_BYTES: '2048',
      PARLEY_UPLOAD_TYPES: 'image/png, application/pdf',
      PARLEY_INTERNAL_TOKEN: 'secret',
    });
    assert.equal(set.messageMaxBytes, 100);
    assert.equal(set.groupMaxMembers, 3);
    assert.equal(set.uploadMaxBytes, 2048);
    assert.deepEqual(set.uploadTypes, ['image/png', 'application/pdf']);
    assert.equal(set.internalToken, 'secret');
    const problems = problemsOf({ PARLEY_MESSAGE_MAX_BYTES: '0', PARLEY_GROUP_MAX_MEMBERS: '1' });
    assert.ok(problems.some((problem) => problem.startsWith('PARLEY_MESSAGE_MAX_BYTES')));
    assert.ok(problems.some((problem) => problem.startsWith('PARLEY_GROUP_MAX_MEMBERS')));
  });

  it('wants a long internal service token in production', () => {
    const base = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/parley',
      PARLEY_CORS_ORIGINS: 'https://x.y',
    };
    assert.match(problemsOf(base).join(), /PARLEY_INTERNAL_TOKEN must be set/);
    assert.match(problemsOf({ ...base, PARLEY_INTERNAL_TOKEN: 'short' }).join(), /at least 32/);
  });

  it('refuses an internal service token with whitespace, which no bearer header can carry', () => {
    for (const token of [`${'x'.repeat(20)} ${'y'.repeat(20)}`, `${'x'.repeat(20)}\t${'y'.repeat(20)}`]) {
      assert.match(
        problemsOf({ PARLEY_INTERNAL_TOKEN: token }).join(),
        /PARLEY_INTERNAL_TOKEN must not contain whitespace/,
      );
    }
    assert.equal(
      parseConfig({ PARLEY_INTERNAL_TOKEN: 'x'.repeat(40) }, '/srv/parley').internalToken?.length,
      40,
    );
  });

  it('gives processes starting together on one data dir one internal token', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-token-'));
    try {
      const tokens = await Promise.all(
        Array.from({ length: 20 }, () => resolveInternalToken({ internalToken: undefined, dataDir })),
      );
      assert.equal(new Set(tokens).size, 1);
      assert.deepEqual(await readdir(dataDir), ['internal-token'], 'no temporary file left behind');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('generates an internal token into the data dir once and keeps it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-token-'));
    try {
      const first = await resolveInternalToken({ internalToken: undefined, dataDir });
      assert.ok(first.length >= 32);
      assert.equal(await resolveInternalToken({ internalToken: undefined, dataDir }), first);
      assert.equal(await resolveInternalToken({ internalToken: 'given', dataDir }), 'given');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
  it('has token and session lifetimes with safe defaults and reads their variables', () => {
    const defaults = parseConfig({ PARLEY_PUBLIC_URL: 'https://chat.example.com/' }, '/srv/parley');
    assert.equal(defaults.accessTokenTtlSeconds, 900);
    assert.equal(defaults.sessionIdleDays, 7);
    assert.equal(defaults.sessionMaxDays, 30);
    assert.equal(defaults.refreshGraceSeconds, 5);
    assert.equal(defaults.jwtIssuer, 'https://chat.example.com');
    assert.equal(defaults.jwtAudience, 'parley');
    assert.equal(defaults.jwksUrl, undefined);
    assert.equal(defaults.signingKeyMaxAgeDays, 90);
    const set = parseConfig({
      PARLEY_ACCESS_TOKEN_TTL: '300',
      PARLEY_SESSION_IDLE_DAYS: '2',
      PARLEY_SESSION_MAX_DAYS: '10',
      PARLEY_REFRESH_GRACE_SECONDS: '0',
      PARLEY_JWT_ISSUER: 'https://id.example.com',
      PARLEY_JWT_AUDIENCE: 'parley-prod',
      PARLEY_SIGNING_KEY_MAX_AGE_DAYS: '30',
    });
    assert.equal(set.accessTokenTtlSeconds, 300);
    assert.equal(set.sessionIdleDays, 2);
    assert.equal(set.sessionMaxDays, 10);
    assert.equal(set.refreshGraceSeconds, 0);
    assert.equal(set.jwtIssuer, 'https://id.example.com');
    assert.equal(set.jwtAudience, 'parley-prod');
    assert.equal(set.signingKeyMaxAgeDays, 30);
  });

  it('finds the JWKS of a remote identity service, or takes it as given', () => {
    const remote = parseConfig({
      PARLEY_UPSTREAM_IDENTITY: 'http://identity-a:8080/, http://identity-b:8080',
    });
    assert.equal(remote.jwksUrl, 'http://identity-a:8080/.well-known/jwks.json');
    const given = parseConfig({ PARLEY_JWKS_URL: 'https://id.example.com/jwks' });
    assert.equal(given.jwksUrl, 'https://id.example.com/jwks');
  });

  it('refuses token and session lifetimes out of range or contradicting each other', () => {
    const problems = problemsOf({
      PARLEY_ACCESS_TOKEN_TTL: '5',
      PARLEY_REFRESH_GRACE_SECONDS: '600',
      PARLEY_JWKS_URL: 'ftp://keys',
    });
    for (const name of ['PARLEY_ACCESS_TOKEN_TTL', 'PARLEY_REFRESH_GRACE_SECONDS', 'PARLEY_JWKS_URL']) {
      assert.ok(
        problems.some((problem) => problem.startsWith(name)),
        `${name} missing from ${problems.join('; ')}`,
      );
    }
    assert.match(
      problemsOf({ PARLEY_SESSION_IDLE_DAYS: '40', PARLEY_SESSION_MAX_DAYS: '30' }).join(),
      /PARLEY_SESSION_IDLE_DAYS must not exceed PARLEY_SESSION_MAX_DAYS/,
    );
  });
});
