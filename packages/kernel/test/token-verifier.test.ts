import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { ACCESS_TOKEN_TYPE } from '../src/auth/access-token.ts';
import { createAuthenticator } from '../src/auth/authenticator.ts';
import { cutoffSecondsFor, DenyList, type DenyListStore } from '../src/auth/deny-list.ts';
import { JwksKeySource } from '../src/auth/jwks-key-source.ts';
import type { KeySource } from '../src/auth/key-source.ts';
import type { Principal } from '../src/auth/principal.ts';
import { TokenVerifier } from '../src/auth/token-verifier.ts';
import { AppError } from '../src/errors.ts';

/** The Cache's member-set semantics, enough for the deny list (the real MemoryCache lives in @parley/cache). */
class MemberStore implements DenyListStore {
  readonly sets = new Map<string, Map<string, number>>();
  reads = 0;
  async addMember(key: string, member: string, ttlMs: number): Promise<void> {
    const set = this.sets.get(key) ?? new Map<string, number>();
    set.set(member, Date.now() + ttlMs);
    this.sets.set(key, set);
  }
  async members(key: string): Promise<string[]> {
    this.reads += 1;
    const now = Date.now();
    return [...(this.sets.get(key) ?? new Map<string, number>())]
      .filter(([, at]) => at > now)
      .map(([m]) => m);
  }
}

const ISSUER = 'https://parley.test';
const AUDIENCE = 'parley';
const KID = 'key_test1';

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

const signer = keyPair();
const keys: KeySource = { publicKey: async (kid) => (kid === KID ? signer.publicKey : null) };

interface TokenOptions {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  iat?: number;
  exp?: number;
  key?: KeyObject;
}

async function sign(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'usr_1',
    jti: `jti_${Math.random()}`,
    iat: options.iat ?? now,
    exp: options.exp ?? now + 900,
    role: 'user',
    sid: 'ses_1',
    token_use: 'access',
    ...options.claims,
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: ACCESS_TOKEN_TYPE, kid: KID, ...options.header })
    .sign(options.key ?? signer.privateKey);
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function rejectsWith(promise: Promise<Principal>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.code, code);
    assert.equal(error.headers['www-authenticate'], 'Bearer');
    return true;
  });
}

describe('token verifier', () => {
  let store: MemberStore;
  let denyList: DenyList;
  let verifier: TokenVerifier;

  beforeEach(() => {
    store = new MemberStore();
    denyList = new DenyList(store, { ttlMs: 60_000 });
    verifier = new TokenVerifier({ keys, denyList, issuer: ISSUER, audience: AUDIENCE });
  });

  it('accepts a well-formed access token and returns its principal', async () => {
    const principal = await verifier.verify(await sign());
    assert.equal(principal.userId, 'usr_1');
    assert.equal(principal.role, 'user');
    assert.equal(principal.sessionId, 'ses_1');
    assert.equal(principal.kind, 'access_token');
    assert.ok(principal.expiresAt && principal.expiresAt > Date.now());
  });

  it('refuses alg none', async () => {
    const token = `${b64({ alg: 'none', typ: ACCESS_TOKEN_TYPE, kid: KID })}.${(await sign()).split('.')[1]}.`;
    await rejectsWith(verifier.verify(token), 'invalid_token');
  });

  it('refuses HS256 keyed with the public key (algorithm confusion)', async () => {
    const good = await sign();
    const payload = good.split('.')[1];
    const header = b64({ alg: 'HS256', typ: ACCESS_TOKEN_TYPE, kid: KID });
    for (const secret of [
      signer.publicKey.export({ format: 'pem', type: 'spki' }),
      signer.publicKey.export({ format: 'der', type: 'spki' }),
      Buffer.from(String(signer.publicKey.export({ format: 'jwk' }).x), 'base64url'),
    ]) {
      const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      await rejectsWith(verifier.verify(`${header}.${payload}.${mac}`), 'invalid_token');
    }
  });

  it('refuses a stripped signature and a tampered payload', async () => {
    const [header, payload, signature] = (await sign()).split('.');
    await rejectsWith(verifier.verify(`${header}.${payload}.`), 'invalid_token');
    await rejectsWith(verifier.verify(`${header}.${payload}`), 'invalid_token');
    const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString());
    const tampered = b64({ ...claims, role: 'admin' });
    await rejectsWith(verifier.verify(`${header}.${tampered}.${signature}`), 'invalid_token');
  });

  it('treats kid as untrusted: a path is refused before any lookup', async () => {
    const looked: string[] = [];
    const spying = new TokenVerifier({
      keys: {
        publicKey: async (kid) => {
          looked.push(kid);
          return signer.publicKey;
        },
      },
      denyList,
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    await rejectsWith(spying.verify(await sign({ header: { kid: '../../etc/passwd' } })), 'invalid_token');
    await rejectsWith(spying.verify(await sign({ header: { kid: undefined } })), 'invalid_token');
    assert.deepEqual(looked, []);
    await rejectsWith(verifier.verify(await sign({ header: { kid: 'key_unknown' } })), 'invalid_token');
  });

  it('ignores jku, x5u and embedded jwk headers (an attacker key in them is never used)', async () => {
    const attacker = keyPair();
    const jwk = attacker.publicKey.export({ format: 'jwk' });
    for (const header of [{ jku: 'https://evil.test/jwks' }, { x5u: 'https://evil.test/cert' }, { jwk }]) {
      const token = await sign({ header, key: attacker.privateKey });
      await rejectsWith(verifier.verify(token), 'invalid_token');
    }
  });

  it('checks exp (token_expired), nbf, iss, aud, type and the access-token claims', async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejectsWith(verifier.verify(await sign({ iat: now - 3600, exp: now - 60 })), 'token_expired');
    await rejectsWith(verifier.verify(await sign({ claims: { nbf: now + 600 } })), 'invalid_token');
    await rejectsWith(verifier.verify(await sign({ claims: { iss: 'https://evil.test' } })), 'invalid_token');
    await rejectsWith(verifier.verify(await sign({ claims: { aud: 'someone-else' } })), 'invalid_token');
    await rejectsWith(verifier.verify(await sign({ header: { typ: 'JWT' } })), 'invalid_token');
    await rejectsWith(verifier.verify(await sign({ claims: { token_use: 'refresh' } })), 'invalid_token');
    await rejectsWith(verifier.verify(await sign({ claims: { role: 'superuser' } })), 'invalid_token');
    await rejectsWith(verifier.verify(await sign({ claims: { sid: undefined } })), 'invalid_token');
  });

  it('caches verified tokens but checks the deny list on every call', async () => {
    let lookups = 0;
    const counting = new TokenVerifier({
      keys: {
        publicKey: async (kid) => {
          lookups++;
          return kid === KID ? signer.publicKey : null;
        },
      },
      denyList,
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const token = await sign();
    await counting.verify(token);
    await counting.verify(token);
    await counting.verify(token);
    assert.equal(lookups, 1, 'verified once, then served from the cache');
    assert.equal(store.reads, 3, 'deny list read on every call');
    await denyList.denySessions('usr_1', ['ses_1']);
    await rejectsWith(counting.verify(token), 'token_revoked');
  });

  it('does not serve an expired token from the cache', async () => {
    let now = Date.now();
    const clocked = new TokenVerifier({ keys, denyList, issuer: ISSUER, audience: AUDIENCE, now: () => now });
    const seconds = Math.floor(now / 1000);
    const token = await sign({ iat: seconds, exp: seconds + 60 });
    await clocked.verify(token);
    now += 120_000;
    await rejectsWith(clocked.verify(token), 'token_expired');
  });

  it('denies by session, by token id and by user cut-off', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign({ claims: { jti: 'jti_one' } });
    await verifier.verify(token);
    await denyList.denyToken('usr_1', 'jti_one');
    await rejectsWith(verifier.verify(token), 'token_revoked');
    const other = await sign({ claims: { sid: 'ses_2' } });
    await verifier.verify(other);
    await denyList.denyUserBefore('usr_1', cutoffSecondsFor(Date.now()));
    await rejectsWith(verifier.verify(other), 'token_revoked');
    // Issuers give post-cut-off tokens an iat at the cut-off: those pass.
    const fresh = await sign({ claims: { sid: 'ses_3' }, iat: cutoffSecondsFor(Date.now()), exp: now + 900 });
    assert.equal((await verifier.verify(fresh)).sessionId, 'ses_3');
  });

  it('bounds the verified-token cache', async () => {
    let lookups = 0;
    const small = new TokenVerifier({
      keys: {
        publicKey: async () => {
          lookups++;
          return signer.publicKey;
        },
      },
      denyList,
      issuer: ISSUER,
      audience: AUDIENCE,
      cacheSize: 2,
    });
    const tokens = [await sign(), await sign(), await sign()];
    for (const token of tokens) await small.verify(token);
    await small.verify(tokens[0] as string);
    assert.equal(lookups, 4, 'the oldest entry was evicted');
  });
});

describe('authenticator', () => {
  const denyList = new DenyList(new MemberStore(), { ttlMs: 60_000 });
  const verifier = new TokenVerifier({ keys, denyList, issuer: ISSUER, audience: AUDIENCE });
  const apiKeyPrincipal: Principal = {
    userId: 'usr_2',
    role: 'agent',
    sessionId: null,
    credentialId: 'key_1',
    kind: 'api_key',
    expiresAt: null,
  };

  it('verifies JWTs, resolves API keys and refuses anything else', async () => {
    const authenticator = createAuthenticator({
      verifier,
      apiKeys: { resolve: async (key) => (key === 'prly_good' ? apiKeyPrincipal : null) },
    });
    assert.equal((await authenticator.authenticate(await sign())).userId, 'usr_1');
    assert.deepEqual(await authenticator.authenticate('prly_good'), apiKeyPrincipal);
    await rejectsWith(authenticator.authenticate('prly_bad'), 'invalid_token');
    await rejectsWith(authenticator.authenticate('an-opaque-refresh-token'), 'invalid_token');
    await rejectsWith(createAuthenticator({ verifier }).authenticate('prly_good'), 'invalid_token');
  });

  it('answers 503 when what it checks with is down (the cache, identity), never a 500 or a 401', async () => {
    const down: DenyListStore = {
      addMember: async () => {},
      members: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      },
    };
    const authenticator = createAuthenticator({
      verifier: new TokenVerifier({
        keys,
        denyList: new DenyList(down, { ttlMs: 60_000 }),
        issuer: ISSUER,
        audience: AUDIENCE,
      }),
      apiKeys: {
        resolve: async () => {
          throw new Error('fetch failed');
        },
      },
    });
    for (const bearer of [await sign(), 'prly_any']) {
      await assert.rejects(authenticator.authenticate(bearer), (error: unknown) => {
        assert.ok(error instanceof AppError, String(error));
        assert.equal(error.status, 503);
        assert.equal(error.code, 'unavailable');
        assert.ok(!error.message.includes('6379'), 'no internal address in the answer');
        return true;
      });
    }
    // A credential that is wrong stays a 401, whatever is down.
    await rejectsWith(authenticator.authenticate('an-opaque-refresh-token'), 'invalid_token');
  });
});

describe('JWKS key source', () => {
  let server: Server;
  let url: string;
  let requests = 0;
  let body: unknown;
  const published = keyPair();

  before(async () => {
    body = {
      keys: [
        { ...published.publicKey.export({ format: 'jwk' }), kid: 'key_a', alg: 'EdDSA', use: 'sig' },
        { kty: 'RSA', kid: 'key_rsa', n: 'x', e: 'AQAB' },
        { ...published.privateKey.export({ format: 'jwk' }), kid: 'key_private' },
        { kty: 'OKP', crv: 'Ed25519', x: '!!!', kid: 'key_broken' },
      ],
    };
    server = createServer((_request, response) => {
      requests += 1;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps only public Ed25519 signing keys and verifies with them', async () => {
    const source = new JwksKeySource({ url });
    assert.ok(await source.publicKey('key_a'));
    assert.equal(await source.publicKey('key_rsa'), null);
    assert.equal(await source.publicKey('key_private'), null);
    assert.equal(await source.publicKey('key_broken'), null);
    const remote = new TokenVerifier({
      keys: source,
      denyList: new DenyList(new MemberStore(), { ttlMs: 60_000 }),
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const token = await sign({ header: { kid: 'key_a' }, key: published.privateKey });
    assert.equal((await remote.verify(token)).userId, 'usr_1');
  });

  it('caches the document and re-fetches unknown kids at most once per cooldown', async () => {
    let now = 1_000_000;
    const source = new JwksKeySource({ url, cooldownMs: 30_000, maxAgeMs: 300_000, now: () => now });
    requests = 0;
    await source.publicKey('key_a');
    await source.publicKey('key_a');
    for (let i = 0; i < 5; i++) assert.equal(await source.publicKey(`key_junk${i}`), null);
    assert.equal(requests, 1);
    now += 31_000;
    await source.publicKey('key_junk');
    assert.equal(requests, 2);
  });

  it('lets requests that arrive during the first fetch wait for it instead of refusing the key', async () => {
    const source = new JwksKeySource({ url });
    requests = 0;
    const keys = await Promise.all(Array.from({ length: 20 }, () => source.publicKey('key_a')));
    assert.ok(keys.every((key) => key !== null));
    assert.equal(requests, 1);
  });

  it('keeps the known keys when identity cannot be reached', async () => {
    let now = 0;
    let up = true;
    const source = new JwksKeySource({
      url,
      maxAgeMs: 1000,
      now: () => now,
      fetch: async (input, init) => {
        if (!up) throw new Error('connection refused');
        return fetch(input, init);
      },
    });
    assert.ok(await source.publicKey('key_a'));
    up = false;
    now += 5000;
    assert.ok(await source.publicKey('key_a'));
  });
});
