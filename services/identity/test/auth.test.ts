import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IdentityEvents } from '@parley/contracts';
import {
  bearer,
  type Harness,
  login,
  me,
  problemOf,
  register,
  startIdentity,
  uniqueEmail,
  waitFor,
} from './harness.ts';

describe('identity: register, login, me, logout, sessions', () => {
  let h: Harness;
  before(async () => {
    h = await startIdentity();
  });
  after(() => h.close());

  describe('POST /api/v1/auth/register', () => {
    it('creates the account, signs in and answers 201 with the API.md shape', async () => {
      const email = uniqueEmail('Mixed.Case').replace('mixed', 'MiXeD');
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: {
          email: `  ${email.toUpperCase()} `.trim(),
          password: 'ünïcødé pässwörd ✓',
          displayName: ' Ada ',
        },
      });
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), [
        'accessToken',
        'expiresIn',
        'refreshToken',
        'sessionId',
        'tokenType',
        'user',
      ]);
      assert.equal(body.tokenType, 'Bearer');
      assert.equal(body.expiresIn, 900);
      assert.equal(body.user.email, email.toLowerCase(), 'email normalized to lower case');
      assert.equal(body.user.displayName, 'Ada');
      assert.equal(body.user.role, 'user');
      assert.equal(body.user.emailVerified, false);
      assert.match(body.user.id, /^usr_[0-9a-z]{26}$/);
      assert.equal(body.user.passwordHash, undefined);
      assert.match(body.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.ok(body.refreshToken.length >= 43);
      assert.equal((await me(h.app, body.accessToken)).json().email, email.toLowerCase());
      const [header] = body.accessToken.split('.');
      const parsed = JSON.parse(Buffer.from(header, 'base64url').toString());
      assert.equal(parsed.alg, 'EdDSA');
      assert.equal(parsed.typ, 'at+jwt');
      assert.match(parsed.kid, /^key_/);
      const claims = JSON.parse(Buffer.from(body.accessToken.split('.')[1], 'base64url').toString());
      for (const claim of ['sub', 'role', 'sid', 'jti', 'iat', 'exp', 'iss', 'aud'])
        assert.ok(claim in claims, claim);
      assert.equal(claims.exp - claims.iat, 900);
      assert.equal(claims.iss, 'https://parley.test');
      assert.equal(claims.aud, 'parley');
      assert.equal(claims.token_use, 'access');
    });

    it('publishes identity.user.registered through the outbox', async () => {
      const account = await register(h.app);
      const event = await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.userRegistered &&
              (e.data as { user: { id: string } }).user.id === account.id,
          ),
        'user.registered',
      );
      assert.deepEqual(Object.keys((event.data as { user: object }).user).sort(), [
        'active',
        'avatarUrl',
        'displayName',
        'email',
        'id',
        'role',
      ]);
    });

    it('answers 409 email_taken for a duplicate email, whatever its case', async () => {
      const account = await register(h.app);
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: {
          email: account.email.toUpperCase(),
          password: 'another fine passphrase',
          displayName: 'X',
        },
      });
      assert.equal(response.statusCode, 409);
      assert.equal(problemOf(response).code, 'email_taken');
    });

    it('refuses common, short and over-long passwords', async () => {
      const cases: [string, number, string][] = [
        ['password123', 400, 'weak_password'],
        ['iloveyou', 400, 'weak_password'],
        ['PaSsWoRd1', 400, 'weak_password'],
        ['short', 400, 'validation_failed'],
        ['x'.repeat(129), 400, 'validation_failed'],
      ];
      for (const [password, status, code] of cases) {
        const response = await h.app.inject({
          method: 'POST',
          url: '/api/v1/auth/register',
          payload: { email: uniqueEmail(), password, displayName: 'X' },
        });
        assert.equal(response.statusCode, status, password);
        assert.equal(problemOf(response).code, code, password);
      }
      const longest = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { email: uniqueEmail(), password: '🔐'.repeat(128), displayName: 'X' },
      });
      assert.equal(longest.statusCode, 201, '128 characters (code points), not bytes');
    });

    it('rejects unknown fields, bad emails, wrong types and wrong content types', async () => {
      const base = { email: uniqueEmail(), password: 'a fine long passphrase', displayName: 'X' };
      for (const payload of [
        { ...base, role: 'admin' },
        { ...base, email: 'not-an-email' },
        { ...base, displayName: 42 },
        { ...base, displayName: '   ' },
        { email: base.email, password: base.password },
      ]) {
        const response = await h.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload });
        assert.equal(response.statusCode, 400, JSON.stringify(payload));
        const problem = problemOf(response);
        assert.equal(problem.code, 'validation_failed');
        assert.ok(Array.isArray(problem.errors));
      }
      const text = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        headers: { 'content-type': 'text/plain' },
        payload: 'hello',
      });
      assert.equal(text.statusCode, 415);
    });
  });

  describe('POST /api/v1/auth/login', () => {
    it('signs in with the right password, any email case', async () => {
      const account = await register(h.app);
      const session = await login(h.app, account.email.toUpperCase(), account.password);
      assert.equal(session.id, account.id);
      assert.notEqual(session.sessionId, account.sessionId);
      assert.equal((await me(h.app, session.accessToken)).statusCode, 200);
      assert.ok((await me(h.app, session.accessToken)).json().lastLoginAt);
    });

    it('answers an unknown email and a wrong password with the same 401 body and similar timing', async () => {
      const account = await register(h.app);
      const attempt = async (email: string) => {
        const started = performance.now();
        const response = await h.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email, password: 'not the password at all' },
        });
        return { response, ms: performance.now() - started };
      };
      await attempt(uniqueEmail()); // warms the dummy hash
      const wrong: number[] = [];
      const unknown: number[] = [];
      let wrongBody = '';
      let unknownBody = '';
      for (let i = 0; i < 5; i++) {
        const a = await attempt(account.email);
        const b = await attempt(uniqueEmail());
        assert.equal(a.response.statusCode, 401);
        assert.equal(b.response.statusCode, 401);
        assert.equal(a.response.headers['www-authenticate'], 'Bearer');
        wrongBody = a.response.body;
        unknownBody = b.response.body;
        wrong.push(a.ms);
        unknown.push(b.ms);
      }
      assert.equal(wrongBody, unknownBody);
      assert.equal(JSON.parse(wrongBody).code, 'invalid_credentials');
      const median = (values: number[]) =>
        values.sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
      // Without the dummy hash an unknown email answers in ~1 ms against tens for a wrong password (a
      // ratio near 0.05); the bounds leave room for a busy CI machine and the per-account delay that
      // repeated wrong passwords earn.
      const ratio = median(unknown) / median(wrong);
      assert.ok(ratio > 0.25 && ratio < 4, `unknown ${median(unknown)} ms vs wrong ${median(wrong)} ms`);
      assert.ok(median(unknown) > 10, 'an unknown email still costs a hash verification');
    });

    it('validates the body', async () => {
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'a@b.c' },
      });
      assert.equal(response.statusCode, 400);
      assert.equal(problemOf(response).code, 'validation_failed');
    });
  });

  describe('GET /api/v1/auth/me', () => {
    it('needs a bearer token: 401 with WWW-Authenticate otherwise', async () => {
      for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer garbage' }]) {
        const response = await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers });
        assert.equal(response.statusCode, 401);
        assert.equal(response.headers['www-authenticate'], 'Bearer');
        assert.ok(['unauthorized', 'invalid_token'].includes(problemOf(response).code));
      }
    });
  });

  describe('POST /api/v1/auth/logout and logout-all', () => {
    it('logout ends this session at once: access token 401, refresh token 401, other sessions live', async () => {
      const account = await register(h.app);
      const other = await login(h.app, account.email, account.password);
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: bearer(account.accessToken),
      });
      assert.equal(response.statusCode, 204);
      const after = await me(h.app, account.accessToken);
      assert.equal(after.statusCode, 401);
      assert.equal(problemOf(after).code, 'token_revoked');
      const refresh = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: account.refreshToken },
      });
      assert.equal(refresh.statusCode, 401);
      assert.equal((await me(h.app, other.accessToken)).statusCode, 200);
      const event = await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.sessionRevoked &&
              (e.data as { sessionIds: string[] }).sessionIds.includes(account.sessionId),
          ),
        'session.revoked',
      );
      assert.deepEqual(event.data, {
        userId: account.id,
        sessionIds: [account.sessionId],
        allSessions: false,
        reason: 'logout',
      });
    });

    it('logout with only the refresh token (access token already expired) ends that session', async () => {
      const account = await register(h.app);
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        payload: { refreshToken: account.refreshToken },
      });
      assert.equal(response.statusCode, 204);
      assert.equal((await me(h.app, account.accessToken)).statusCode, 401);
    });

    it('logout with a refresh token ends its session whatever state the access token beside it is in', async () => {
      const account = await register(h.app);
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: bearer('an.expired.or.mangled.token'),
        payload: { refreshToken: account.refreshToken },
      });
      assert.equal(response.statusCode, 204);
      const refresh = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: account.refreshToken },
      });
      assert.equal(refresh.statusCode, 401);
      assert.equal((await me(h.app, account.accessToken)).statusCode, 401);
      // Without a refresh token the bearer is all there is, and a bad one is still 401.
      const alone = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: bearer('an.expired.or.mangled.token'),
      });
      assert.equal(alone.statusCode, 401);
    });

    it('logout without any credential is 401; another user’s refresh token ends nothing', async () => {
      const none = await h.app.inject({ method: 'POST', url: '/api/v1/auth/logout' });
      assert.equal(none.statusCode, 401);
      const alice = await register(h.app);
      const mallory = await register(h.app);
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: bearer(mallory.accessToken),
        payload: { refreshToken: alice.refreshToken },
      });
      assert.equal(response.statusCode, 204);
      assert.equal((await me(h.app, alice.accessToken)).statusCode, 200);
      assert.equal((await me(h.app, mallory.accessToken)).statusCode, 401);
    });

    it('logout-all ends every session of the caller; a new login works right after', async () => {
      const account = await register(h.app);
      const second = await login(h.app, account.email, account.password);
      const bystander = await register(h.app);
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout-all',
        headers: bearer(second.accessToken),
      });
      assert.equal(response.statusCode, 204);
      assert.equal((await me(h.app, account.accessToken)).statusCode, 401);
      assert.equal((await me(h.app, second.accessToken)).statusCode, 401);
      assert.equal((await me(h.app, bystander.accessToken)).statusCode, 200);
      const again = await login(h.app, account.email, account.password);
      assert.equal((await me(h.app, again.accessToken)).statusCode, 200);
      const unauthenticated = await h.app.inject({ method: 'POST', url: '/api/v1/auth/logout-all' });
      assert.equal(unauthenticated.statusCode, 401);
    });
  });

  describe('GET/DELETE /api/v1/auth/sessions', () => {
    it('lists the caller’s open sessions with device, created and last used', async () => {
      const account = await register(h.app);
      await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'user-agent': 'Parley-Test/1.0' },
        payload: { email: account.email, password: account.password },
      });
      const response = await h.app.inject({
        method: 'GET',
        url: '/api/v1/auth/sessions',
        headers: bearer(account.accessToken),
      });
      assert.equal(response.statusCode, 200);
      const { items, nextCursor } = response.json();
      assert.equal(nextCursor, null);
      assert.equal(items.length, 2);
      const current = items.find((s: { current: boolean }) => s.current);
      assert.equal(current.id, account.sessionId);
      assert.ok(items.some((s: { userAgent: string }) => s.userAgent === 'Parley-Test/1.0'));
      for (const session of items) {
        assert.ok(
          Date.parse(session.createdAt) && Date.parse(session.lastUsedAt) && Date.parse(session.expiresAt),
        );
      }
    });

    it('ends one session at once; someone else’s session is 404', async () => {
      const account = await register(h.app);
      const second = await login(h.app, account.email, account.password);
      const stranger = await register(h.app);
      const foreign = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/auth/sessions/${second.sessionId}`,
        headers: bearer(stranger.accessToken),
      });
      assert.equal(foreign.statusCode, 404);
      assert.equal(problemOf(foreign).code, 'not_found');
      const ended = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/auth/sessions/${second.sessionId}`,
        headers: bearer(account.accessToken),
      });
      assert.equal(ended.statusCode, 204);
      assert.equal((await me(h.app, second.accessToken)).statusCode, 401);
      assert.equal((await me(h.app, account.accessToken)).statusCode, 200);
      const again = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/auth/sessions/${second.sessionId}`,
        headers: bearer(account.accessToken),
      });
      assert.equal(again.statusCode, 404);
      const list = await h.app.inject({
        method: 'GET',
        url: '/api/v1/auth/sessions',
        headers: bearer(account.accessToken),
      });
      assert.equal(list.json().items.length, 1);
      assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/sessions' })).statusCode, 401);
    });
  });

  it('documents every identity route in the merged OpenAPI document', async () => {
    const document = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of [
      '/api/v1/auth/register',
      '/api/v1/auth/login',
      '/api/v1/auth/refresh',
      '/api/v1/auth/logout',
      '/api/v1/auth/logout-all',
      '/api/v1/auth/me',
      '/api/v1/auth/verify-email',
      '/api/v1/auth/forgot-password',
      '/api/v1/auth/reset-password',
      '/api/v1/auth/change-password',
      '/api/v1/auth/sessions',
      '/api/v1/auth/sessions/{id}',
      '/api/v1/auth/api-keys',
      '/api/v1/auth/api-keys/{id}',
      '/api/v1/users/me',
      '/api/v1/users',
      '/api/v1/users/{id}',
      '/api/v1/users/{id}/block',
      '/api/v1/admin/users',
      '/api/v1/admin/users/{id}',
      '/.well-known/jwks.json',
    ]) {
      assert.ok(document.paths[path], `${path} missing from /openapi.json`);
    }
  });
});
