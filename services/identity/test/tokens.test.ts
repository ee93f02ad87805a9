import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IdentityEvents } from '@parley/contracts';
import { SignJWT } from 'jose';
import {
  type Account,
  ADMIN,
  bearer,
  type Harness,
  login,
  me,
  problemOf,
  register,
  startIdentity,
  waitFor,
} from './harness.ts';

const DAY = 24 * 3600 * 1000;

describe('identity: tokens, refresh rotation, signing keys', () => {
  let h: Harness;
  let offsetMs = 0;
  before(async () => {
    h = await startIdentity({ clock: () => new Date(Date.now() + offsetMs) });
  });
  after(() => h.close());

  const refresh = (refreshToken: string) =>
    h.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });

  describe('POST /api/v1/auth/refresh', () => {
    it('rotates: new access and refresh tokens, same session, the old access token keeps working', async () => {
      const account = await register(h.app);
      const response = await refresh(account.refreshToken);
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.equal(body.tokenType, 'Bearer');
      assert.equal(body.sessionId, account.sessionId);
      assert.notEqual(body.refreshToken, account.refreshToken);
      assert.notEqual(body.accessToken, account.accessToken);
      assert.equal(body.user.id, account.id);
      assert.equal((await me(h.app, body.accessToken)).statusCode, 200);
      assert.equal((await refresh(body.refreshToken)).statusCode, 200);
    });

    it('a spent refresh token presented again revokes the whole family (401), its access tokens too', async () => {
      const account = await register(h.app);
      const first = (await refresh(account.refreshToken)).json();
      const second = (await refresh(first.refreshToken)).json();
      assert.equal((await me(h.app, second.accessToken)).statusCode, 200);

      const reuse = await refresh(account.refreshToken);
      assert.equal(reuse.statusCode, 401);
      assert.equal(problemOf(reuse).code, 'refresh_token_reused');
      assert.equal((await refresh(second.refreshToken)).statusCode, 401, 'the current head is dead too');
      assert.equal(
        (await me(h.app, second.accessToken)).statusCode,
        401,
        'access tokens of the family die at once',
      );
      assert.equal((await me(h.app, account.accessToken)).statusCode, 401);
      const event = await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.sessionRevoked &&
              (e.data as { reason: string }).reason === 'refresh_reuse',
          ),
        'session.revoked (refresh_reuse)',
      );
      assert.deepEqual((event.data as { sessionIds: string[] }).sessionIds, [account.sessionId]);
      const otherLogin = await login(h.app, account.email, account.password);
      assert.equal(
        (await me(h.app, otherLogin.accessToken)).statusCode,
        200,
        'other sessions are not affected',
      );
    });

    it('a parallel retry of the immediate parent within the grace period gets the same child', async () => {
      const account = await register(h.app);
      const a = (await refresh(account.refreshToken)).json();
      const b = await refresh(account.refreshToken);
      assert.equal(b.statusCode, 200);
      assert.equal(b.json().refreshToken, a.refreshToken, 'one chain, not two');
      assert.equal((await refresh(a.refreshToken)).statusCode, 200);
    });

    it('no grace for an older ancestor, nor after the grace period', async () => {
      const account = await register(h.app);
      const child = (await refresh(account.refreshToken)).json();
      offsetMs += 6000;
      try {
        const late = await refresh(account.refreshToken);
        assert.equal(late.statusCode, 401);
        assert.equal(problemOf(late).code, 'refresh_token_reused');
        assert.equal((await refresh(child.refreshToken)).statusCode, 401);
      } finally {
        offsetMs -= 6000;
      }
    });

    it('10 parallel refreshes with one token leave exactly one surviving chain', async () => {
      const account = await register(h.app);
      const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(account.refreshToken)));
      for (const response of responses) assert.equal(response.statusCode, 200, response.body);
      const children = new Set(responses.map((response) => response.json().refreshToken));
      assert.equal(children.size, 1, 'every parallel caller got the same successor');
      const [head] = [...children] as [string];
      const next = await refresh(head);
      assert.equal(next.statusCode, 200);
      assert.equal((await refresh(next.json().refreshToken)).statusCode, 200);
      // Presenting the (now grand-)parent again is reuse: the chain ends.
      assert.equal((await refresh(account.refreshToken)).statusCode, 401);
    });

    it('ends a session after the idle timeout and after the absolute lifetime', async () => {
      const idle = await register(h.app);
      offsetMs += 7 * DAY + 1000;
      try {
        const response = await refresh(idle.refreshToken);
        assert.equal(response.statusCode, 401);
        assert.equal(problemOf(response).code, 'session_expired');
      } finally {
        offsetMs -= 7 * DAY + 1000;
      }
      let busy: Account | { refreshToken: string } = await register(h.app);
      const start = offsetMs;
      try {
        // Used every 6 days: never idle, but the 30-day absolute end still comes.
        for (let day = 6; day < 30; day += 6) {
          offsetMs = start + day * DAY;
          const response = await refresh(busy.refreshToken);
          assert.equal(response.statusCode, 200, `day ${day}`);
          busy = response.json();
        }
        offsetMs = start + 30 * DAY + 1000;
        const response = await refresh(busy.refreshToken);
        assert.equal(response.statusCode, 401);
        assert.equal(problemOf(response).code, 'session_expired');
      } finally {
        offsetMs = start;
      }
    });

    it('refuses unknown, malformed and missing refresh tokens', async () => {
      const unknown = await refresh('x'.repeat(43));
      assert.equal(unknown.statusCode, 401);
      assert.equal(problemOf(unknown).code, 'invalid_token');
      const missing = await h.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: {} });
      assert.equal(missing.statusCode, 400);
      const extra = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: 'x'.repeat(43), userId: 'usr_x' },
      });
      assert.equal(extra.statusCode, 400);
    });
  });

  describe('JWT attacks on the REST surface: all 401', () => {
    let account: Account;
    let signingKey: { kid: string; privateJwk: { x: string; d: string } };
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claimsOf = (token: string) =>
      JSON.parse(Buffer.from(String(token.split('.')[1]), 'base64url').toString());

    before(async () => {
      account = await register(h.app);
      const file = JSON.parse(await readFile(join(h.dataDir, 'keys', 'signing-keys.json'), 'utf8'));
      signingKey = file.keys.at(-1);
    });

    async function signWithRealKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
      const key = createPrivateKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: signingKey.privateJwk.x, d: signingKey.privateJwk.d },
        format: 'jwk',
      });
      return new SignJWT({ ...claimsOf(account.accessToken), ...claims })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: signingKey.kid, ...header })
        .sign(key);
    }

    async function assert401(token: string, code?: string) {
      const response = await me(h.app, token);
      assert.equal(response.statusCode, 401, token);
      assert.equal(response.headers['www-authenticate'], 'Bearer');
      if (code) assert.equal(problemOf(response).code, code);
    }

    it('the genuine token works (control)', async () => {
      assert.equal((await me(h.app, account.accessToken)).statusCode, 200);
      assert.equal((await me(h.app, await signWithRealKey({}))).statusCode, 200);
    });

    it('alg none', async () => {
      const [, payload] = account.accessToken.split('.');
      await assert401(`${b64({ alg: 'none', typ: 'at+jwt', kid: signingKey.kid })}.${payload}.`);
      await assert401(`${b64({ alg: 'none' })}.${payload}.`);
    });

    it('HS256 keyed with the public key', async () => {
      const jwks = (await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
      const [, payload] = account.accessToken.split('.');
      const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: signingKey.kid });
      for (const secret of [
        JSON.stringify(jwks.keys[0]),
        Buffer.from(jwks.keys[0].x, 'base64url'),
        jwks.keys[0].x,
      ]) {
        const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
        await assert401(`${header}.${payload}.${mac}`);
      }
    });

    it('stripped signature', async () => {
      const [header, payload] = account.accessToken.split('.');
      await assert401(`${header}.${payload}.`);
      await assert401(`${header}.${payload}`);
    });

    it('tampered payload', async () => {
      const [header, , signature] = account.accessToken.split('.');
      const tampered = b64({ ...claimsOf(account.accessToken), role: 'admin' });
      await assert401(`${header}.${tampered}.${signature}`);
      const otherUser = b64({ ...claimsOf(account.accessToken), sub: 'usr_01aaaaaaaaaaaaaaaaaaaaaaaa' });
      await assert401(`${header}.${otherUser}.${signature}`);
    });

    it('kid "../../etc/passwd" (even with a valid signature)', async () => {
      await assert401(await signWithRealKey({}, { kid: '../../etc/passwd' }), 'invalid_token');
    });

    it('expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      await assert401(await signWithRealKey({ iat: now - 3600, exp: now - 1800 }), 'token_expired');
    });

    it('refresh token used as an access token', async () => {
      await assert401(account.refreshToken, 'invalid_token');
    });

    it('wrong issuer, audience or type, and an attacker key in jku/jwk headers', async () => {
      await assert401(await signWithRealKey({ iss: 'https://evil.test' }));
      await assert401(await signWithRealKey({ aud: 'other-app' }));
      await assert401(await signWithRealKey({}, { typ: 'JWT' }));
      await assert401(await signWithRealKey({ token_use: 'refresh' }));
      const attacker = generateKeyPairSync('ed25519');
      const forged = await new SignJWT(claimsOf(account.accessToken))
        .setProtectedHeader({
          alg: 'EdDSA',
          typ: 'at+jwt',
          kid: signingKey.kid,
          jwk: attacker.publicKey.export({ format: 'jwk' }),
          jku: 'https://evil.test/jwks.json',
        })
        .sign(attacker.privateKey);
      await assert401(forged);
    });
  });

  describe('signing keys and JWKS', () => {
    it('publishes public keys only, cacheable', async () => {
      const response = await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['cache-control']), /max-age=300/);
      for (const key of response.json().keys) {
        assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
        assert.equal(key.alg, 'EdDSA');
        assert.equal(key.crv, 'Ed25519');
      }
      assert.doesNotMatch(response.body, /"d"/);
    });

    it('keeps the private keys in an owner-only file in the data dir', async () => {
      const file = join(h.dataDir, 'keys', 'signing-keys.json');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(join(h.dataDir, 'keys'))).mode & 0o777, 0o700);
    });

    it('rotates on an admin’s request: new tokens use the new kid, old tokens stay valid', async () => {
      const admin = await login(h.app, ADMIN.email, ADMIN.password);
      const user = await register(h.app);
      const oldKid = JSON.parse(
        Buffer.from(String(user.accessToken.split('.')[0]), 'base64url').toString(),
      ).kid;
      const forbidden = await h.app.inject({
        method: 'POST',
        url: '/api/v1/admin/signing-keys/rotate',
        headers: bearer(user.accessToken),
      });
      assert.equal(forbidden.statusCode, 403);
      const rotated = await h.app.inject({
        method: 'POST',
        url: '/api/v1/admin/signing-keys/rotate',
        headers: bearer(admin.accessToken),
      });
      assert.equal(rotated.statusCode, 200);
      const { kid } = rotated.json();
      assert.notEqual(kid, oldKid);
      const kids = (await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' }))
        .json()
        .keys.map((key: { kid: string }) => key.kid);
      assert.ok(kids.includes(oldKid) && kids.includes(kid));
      assert.equal(
        (await me(h.app, user.accessToken)).statusCode,
        200,
        'tokens signed with the old key still verify',
      );
      const fresh = await login(h.app, user.email, user.password);
      assert.equal(
        JSON.parse(Buffer.from(String(fresh.accessToken.split('.')[0]), 'base64url').toString()).kid,
        kid,
      );
      assert.equal((await me(h.app, fresh.accessToken)).statusCode, 200);
    });
  });
});
