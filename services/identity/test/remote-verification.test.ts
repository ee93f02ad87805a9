import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAuthenticator, DenyList, JwksKeySource, TokenVerifier } from '@parley/kernel';
import { bearer, type Harness, register, startIdentity } from './harness.ts';

/**
 * What a process without identity does (apps/server's remote authenticator): public keys from identity's
 * JWKS over HTTP, revocations from the shared cache. Here the "other process" shares identity's cache, as
 * two processes share Redis.
 */
describe('identity: verification in another process (JWKS over HTTP + shared deny list)', () => {
  let h: Harness;
  let url: string;
  before(async () => {
    h = await startIdentity();
    url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => h.close());

  it('verifies identity’s tokens locally and honours revocations at once', async () => {
    const remote = createAuthenticator({
      verifier: new TokenVerifier({
        keys: new JwksKeySource({ url: `${url}/.well-known/jwks.json` }),
        denyList: new DenyList(h.cache, { ttlMs: 960_000 }),
        issuer: 'https://parley.test',
        audience: 'parley',
      }),
    });
    const account = await register(h.app);
    const principal = await remote.authenticate(account.accessToken);
    assert.equal(principal.userId, account.id);
    assert.equal(principal.sessionId, account.sessionId);
    const logout = await h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: bearer(account.accessToken),
    });
    assert.equal(logout.statusCode, 204);
    await assert.rejects(remote.authenticate(account.accessToken), { status: 401, code: 'token_revoked' });
    await assert.rejects(remote.authenticate(account.refreshToken), { status: 401 });
  });
});
