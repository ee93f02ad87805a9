import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD_FILE, GENERATED_ADMIN_EMAIL } from '../src/index.ts';
import { type Harness, login, problemOf, register, startIdentity, uniqueEmail } from './harness.ts';

describe('identity: rate limits on login, register and forgot-password', () => {
  let h: Harness;
  let offsetMs = 0;
  before(async () => {
    h = await startIdentity({
      env: { PARLEY_AUTH_RATE_LIMIT: '3' },
      clock: () => new Date(Date.now() + offsetMs),
    });
  });
  after(() => h.close());

  const post = (url: string, payload: object, ip: string) =>
    h.app.inject({ method: 'POST', url, payload, remoteAddress: ip });

  it('limits per IP: 429 problem+json with Retry-After and RateLimit-* headers', async () => {
    const ip = '203.0.113.7';
    const ok = await post('/api/v1/auth/forgot-password', { email: uniqueEmail() }, ip);
    assert.equal(ok.statusCode, 202);
    assert.equal(ok.headers['ratelimit-limit'], '3');
    assert.equal(ok.headers['ratelimit-remaining'], '2');
    await post('/api/v1/auth/forgot-password', { email: uniqueEmail() }, ip);
    await post('/api/v1/auth/forgot-password', { email: uniqueEmail() }, ip);
    const limited = await post('/api/v1/auth/forgot-password', { email: uniqueEmail() }, ip);
    assert.equal(limited.statusCode, 429);
    const problem = problemOf(limited);
    assert.equal(problem.code, 'rate_limited');
    assert.equal(problem.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    assert.equal(limited.headers['ratelimit-limit'], '3');
    assert.equal(limited.headers['ratelimit-remaining'], '0');
    assert.ok(Number(limited.headers['ratelimit-reset']) >= 1);
    const elsewhere = await post('/api/v1/auth/forgot-password', { email: uniqueEmail() }, '203.0.113.8');
    assert.equal(elsewhere.statusCode, 202, 'other addresses are not affected');
  });

  it('limits per account across addresses', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < 3; i++) {
      const response = await post(
        '/api/v1/auth/register',
        { email, password: 'password1', displayName: 'X' },
        `198.51.100.${i}`,
      );
      assert.equal(response.statusCode, 400);
      assert.equal(problemOf(response).code, 'weak_password');
    }
    const limited = await post(
      '/api/v1/auth/register',
      { email, password: 'password1', displayName: 'X' },
      '198.51.100.99',
    );
    assert.equal(limited.statusCode, 429);
    assert.ok(limited.headers['retry-after']);
  });

  it('repeated failed logins bring a short, rising per-account delay instead of a lockout', async () => {
    const account = await register(h.app);
    const attempt = (password: string, n: number) =>
      post('/api/v1/auth/login', { email: account.email, password }, `192.0.2.${n}`);
    for (let i = 0; i < 3; i++) assert.equal((await attempt('wrong password', i)).statusCode, 401);
    const delayed = await attempt(account.password, 10);
    assert.equal(delayed.statusCode, 429, 'even the right password waits out the delay');
    assert.equal(problemOf(delayed).code, 'rate_limited');
    assert.equal(delayed.headers['retry-after'], '1');
    offsetMs += 1500;
    assert.equal((await attempt('wrong password', 11)).statusCode, 401);
    const longer = await attempt(account.password, 12);
    assert.equal(longer.statusCode, 429);
    assert.equal(longer.headers['retry-after'], '2', 'the delay doubles');
    offsetMs += 2500;
    const through = await attempt(account.password, 13);
    assert.equal(through.statusCode, 200, 'the real user gets in once the short delay has passed');
  });
});

describe('identity: first-start admin', () => {
  let h: Harness;
  before(async () => {
    h = await startIdentity({ env: { PARLEY_ADMIN_EMAIL: '', PARLEY_ADMIN_PASSWORD: '' } });
  });
  after(() => h.close());

  it('creates admin@localhost with a random password, shown once and kept owner-only in the data dir', async () => {
    assert.equal(h.announced.length, 1);
    const file = join(h.dataDir, ADMIN_PASSWORD_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const password = /password: (\S+)/.exec(await readFile(file, 'utf8'))?.[1] ?? '';
    assert.ok(password.length >= 20);
    assert.ok(h.announced[0]?.includes(password));
    const admin = await login(h.app, GENERATED_ADMIN_EMAIL, password);
    const list = await h.app.inject({
      method: 'GET',
      url: '/api/v1/admin/users',
      headers: { authorization: `Bearer ${admin.accessToken}` },
    });
    assert.equal(list.statusCode, 200);
  });
});
