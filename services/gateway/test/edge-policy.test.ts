import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryCache } from '@parley/cache';
import { DenyList, type ServicePlugin } from '@parley/kernel';
import { decodeJwt } from 'jose';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { deadPort, echo, identityServing, type StubUpstream, startStub } from './support/stub-upstream.ts';
import { createSigner, type TestSigner } from './support/tokens.ts';

interface Problem {
  status: number;
  code: string;
}

describe('edge token verification in distributed mode', () => {
  let signer: TestSigner;
  let identity: StubUpstream;
  let chat: StubUpstream;
  let gateway: GatewayUnderTest;
  const cache = new MemoryCache();

  before(async () => {
    signer = await createSigner();
    identity = await startStub(identityServing(signer));
    chat = await startStub(echo('chat'));
    gateway = await startGateway({
      cache,
      env: { PARLEY_UPSTREAM_IDENTITY: identity.url, PARLEY_UPSTREAM_CHAT: chat.url },
    });
  });

  after(async () => {
    await gateway.close();
    await cache.close();
    await Promise.all([identity.close(), chat.close()]);
  });

  it('refuses a protected route without a bearer at the edge: 401, WWW-Authenticate, upstream untouched', async () => {
    const before = chat.traffic().length;
    const response = await fetch(`${gateway.url}/api/v1/conversations`);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer');
    assert.equal(((await response.json()) as Problem).code, 'unauthorized');
    assert.equal(chat.traffic().length, before);
  });

  it('refuses garbage, foreign-signed and expired tokens with their codes', async () => {
    const foreign = await (await createSigner('test-key')).sign({ sub: 'usr_mallory' });
    const expired = await signer.sign({ sub: 'usr_alice', expiresInSeconds: -60 });
    const cases: Array<[string, string]> = [
      ['not-a-token', 'invalid_token'],
      [foreign, 'invalid_token'],
      [expired, 'token_expired'],
    ];
    for (const [token, code] of cases) {
      const response = await fetch(`${gateway.url}/api/v1/conversations`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 401, code);
      assert.equal(((await response.json()) as Problem).code, code);
    }
    assert.equal(chat.traffic().length, 0);
  });

  it('lets a valid token through, and leaves revocation to the service (which checks it on every request)', async () => {
    const token = await signer.sign({ sub: 'usr_bob' });
    const ok = await fetch(`${gateway.url}/api/v1/conversations`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
    const { sid } = decodeJwt(token) as { sid: string };
    await new DenyList(cache, { ttlMs: 60_000 }).denySessions('usr_bob', [sid]);
    const before = chat.traffic().length;
    const revoked = await fetch(`${gateway.url}/api/v1/conversations`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(
      revoked.status,
      200,
      'the stub service does not check; a real one answers 401 token_revoked',
    );
    assert.equal(chat.traffic().length, before + 1, 'no cache round trip at the edge for it');
  });

  it('lets the anonymous routes through without a token, and API keys on to the service', async () => {
    const anonymous: Array<[string, string]> = [
      ['POST', '/api/v1/auth/register'],
      ['POST', '/api/v1/auth/login'],
      ['POST', '/api/v1/auth/refresh'],
      ['POST', '/api/v1/auth/logout'],
      ['POST', '/api/v1/auth/forgot-password'],
      ['POST', '/api/v1/auth/reset-password'],
      ['POST', '/api/v1/auth/verify-email'],
      ['GET', '/.well-known/jwks.json'],
      ['GET', '/socket.io/?EIO=4&transport=polling'],
    ];
    for (const [method, path] of anonymous) {
      const response = await fetch(`${gateway.url}${path}`, {
        method,
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      assert.equal(response.status, 200, `${method} ${path}`);
    }
    const me = await fetch(`${gateway.url}/api/v1/auth/me`);
    assert.equal(me.status, 401, 'but not the rest of /auth');

    const withKey = await fetch(`${gateway.url}/api/v1/conversations`, {
      headers: { authorization: 'Bearer prly_abc' },
    });
    assert.equal(withKey.status, 200, 'the service resolves API keys');
  });
});

describe('edge token verification while identity is unreachable', () => {
  it('answers 503 (keys unavailable), not a 401 that would make clients drop their tokens', async () => {
    const signer = await createSigner();
    const chat = await startStub(echo('chat'));
    const gateway = await startGateway({
      env: {
        PARLEY_UPSTREAM_IDENTITY: `http://127.0.0.1:${await deadPort()}`,
        PARLEY_UPSTREAM_CHAT: chat.url,
      },
    });
    try {
      const response = await fetch(`${gateway.url}/api/v1/conversations`, {
        headers: { authorization: `Bearer ${await signer.sign({ sub: 'usr_alice' })}` },
      });
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as Problem).code, 'unavailable');
    } finally {
      await gateway.close();
      await chat.close();
    }
  });
});

describe('edge rate limits', () => {
  let signer: TestSigner;
  let identity: StubUpstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    signer = await createSigner();
    identity = await startStub(identityServing(signer));
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_IDENTITY: identity.url, PARLEY_RATE_LIMIT: '3' } });
  });

  after(async () => {
    await gateway.close();
    await identity.close();
  });

  it('counts per user, with RateLimit headers on every answer and 429 + Retry-After past the limit', async () => {
    const alice = { authorization: `Bearer ${await signer.sign({ sub: 'usr_alice' })}` };
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${gateway.url}/api/v1/auth/me`, { headers: alice });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('ratelimit-limit'), '3');
      assert.ok(Number(response.headers.get('ratelimit-reset')) >= 1);
      remaining.push(response.headers.get('ratelimit-remaining') ?? '');
    }
    assert.deepEqual(remaining, ['2', '1', '0']);

    const limited = await fetch(`${gateway.url}/api/v1/auth/me`, { headers: alice });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(limited.headers.get('ratelimit-remaining'), '0');
    assert.equal(((await limited.json()) as Problem).code, 'rate_limited');

    const bob = { authorization: `Bearer ${await signer.sign({ sub: 'usr_bob' })}` };
    assert.equal(
      (await fetch(`${gateway.url}/api/v1/auth/me`, { headers: bob })).status,
      200,
      'another user has his own',
    );
    const tokenForAlice = { authorization: `Bearer ${await signer.sign({ sub: 'usr_alice' })}` };
    assert.equal(
      (await fetch(`${gateway.url}/api/v1/auth/me`, { headers: tokenForAlice })).status,
      429,
      'per user, not per token',
    );
  });

  it('counts anonymous callers per IP, and never the probes', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await fetch(`${gateway.url}/api/v1/auth/login`, { method: 'POST', body: '{}' })).status,
        200,
      );
    }
    assert.equal(
      (await fetch(`${gateway.url}/api/v1/auth/login`, { method: 'POST', body: '{}' })).status,
      429,
    );
    for (let i = 0; i < 5; i++) {
      // The same routes however the path is spelled (a probe configured with a trailing slash).
      for (const path of ['/health', '/ready', '/metrics', '/health/', '/ready/', '/metrics/', '/h%65alth']) {
        const response = await fetch(`${gateway.url}${path}`);
        assert.equal(response.status, 200, path);
        assert.equal(response.headers.get('ratelimit-limit'), null);
      }
    }
  });
});

describe('edge policies in embedded mode', () => {
  it('rate-limits the in-process routes too, per user when identity runs in the process', async () => {
    const signer = await createSigner();
    const identity: ServicePlugin = {
      name: 'identity',
      plugin: async (app) => {
        app.get('/.well-known/jwks.json', async () => signer.jwks);
        app.get('/api/v1/auth/me', async () => ({ me: true }));
      },
    };
    const gateway = await startGateway({
      services: [identity],
      env: { PARLEY_SERVICES: 'all', PARLEY_RATE_LIMIT: '2' },
    });
    try {
      const alice = { authorization: `Bearer ${await signer.sign({ sub: 'usr_alice' })}` };
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${gateway.url}/api/v1/auth/me`, { headers: alice });
        statuses.push(response.status);
        assert.equal(response.headers.get('ratelimit-limit'), '2');
        assert.match(response.headers.get('traceparent') ?? '', /^00-/);
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      const bob = { authorization: `Bearer ${await signer.sign({ sub: 'usr_bob' })}` };
      assert.equal((await fetch(`${gateway.url}/api/v1/auth/me`, { headers: bob })).status, 200);
    } finally {
      await gateway.close();
    }
  });
});

describe('edge CORS for the configured browser origins', () => {
  let identity: StubUpstream;
  let gateway: GatewayUnderTest;
  const origin = 'https://app.example';

  before(async () => {
    identity = await startStub(echo('identity'));
    gateway = await startGateway({
      env: { PARLEY_UPSTREAM_IDENTITY: identity.url, PARLEY_CORS_ORIGINS: origin },
    });
  });

  after(async () => {
    await gateway.close();
    await identity.close();
  });

  const preflight = (method: string, from = origin) =>
    fetch(`${gateway.url}/api/v1/users/me`, {
      method: 'OPTIONS',
      headers: {
        origin: from,
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('lets an allowed origin use every method the API has, with its headers', async () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      const response = await preflight(method);
      assert.equal(response.status, 204, method);
      assert.equal(response.headers.get('access-control-allow-origin'), origin, method);
      const allowed = (response.headers.get('access-control-allow-methods') ?? '')
        .split(',')
        .map((name) => name.trim().toUpperCase());
      assert.ok(allowed.includes(method), `${method} is among the allowed methods: ${allowed.join(',')}`);
      assert.match(response.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    }
  });

  it('grants nothing to another origin, on a preflight or an actual request', async () => {
    const refused = await preflight('PATCH', 'https://app.example.evil.test');
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    const answered = await fetch(`${gateway.url}/.well-known/jwks.json`, {
      headers: { origin: 'https://evil.test' },
    });
    assert.equal(answered.headers.get('access-control-allow-origin'), null);
    const allowed = await fetch(`${gateway.url}/.well-known/jwks.json`, { headers: { origin } });
    assert.equal(allowed.headers.get('access-control-allow-origin'), origin);
    assert.match(allowed.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
  });
});
