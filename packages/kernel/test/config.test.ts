import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig, SERVICE_NAMES } from '../src/config.ts';

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
  });

  it('names the variable and what it expects when a value is wrong', () => {
    const [problem] = problemsOf({ PORT: 'abc' });
    assert.match(problem ?? '', /^PORT must be an integer from 0 to 65535 \(got "abc"\)$/);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({
      PORT: '70000',
      PARLEY_SERVICES: 'chat,mail',
      DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
      PARLEY_MAIL_TRANSPORT: 'pigeon',
      PARLEY_RATE_LIMIT: '1.5',
    });
    for (const name of [
      'PORT',
      'PARLEY_SERVICES',
      'DATABASE_URL',
      'LOG_LEVEL',
      'PARLEY_MAIL_TRANSPORT',
      'PARLEY_RATE_LIMIT',
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
      }),
    );
  });
});
