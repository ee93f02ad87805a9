import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openPgliteTestDatabase } from '@parley/store/testing';
import { ADMIN, bearer, type Harness, login, me, problemOf, register, startIdentity } from './harness.ts';

describe('identity restarted on its database with an empty cache (npm start: the cache is its memory)', () => {
  it('still refuses the access tokens revoked before the restart, and only those', async () => {
    const shared = await openPgliteTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-identity-restart-'));
    // Both lives of the process use one database and one data dir (its signing keys); each has its own cache.
    const options = { dataDir, openDatabase: async () => ({ ...shared, dispose: async () => {} }) };
    let second: Harness | undefined;
    try {
      const first = await startIdentity(options);
      const admin = await login(first.app, ADMIN.email, ADMIN.password);
      const signedOut = await register(first.app);
      const everywhere = await register(first.app);
      const elsewhere = await login(first.app, everywhere.email, everywhere.password);
      const deactivated = await register(first.app);
      const promoted = await register(first.app);
      const untouched = await register(first.app);

      const post = (url: string, token: string) =>
        first.app.inject({ method: 'POST', url, headers: bearer(token) });
      const patchUser = (id: string, payload: object) =>
        first.app.inject({
          method: 'PATCH',
          url: `/api/v1/admin/users/${id}`,
          headers: bearer(admin.accessToken),
          payload,
        });
      assert.equal((await post('/api/v1/auth/logout', signedOut.accessToken)).statusCode, 204);
      assert.equal((await post('/api/v1/auth/logout-all', elsewhere.accessToken)).statusCode, 204);
      assert.equal((await patchUser(deactivated.id, { active: false })).statusCode, 200);
      assert.equal((await patchUser(promoted.id, { role: 'agent' })).statusCode, 200);
      const revoked = { signedOut, everywhere, deactivated, promoted };
      for (const [who, account] of Object.entries(revoked)) {
        assert.equal(
          (await me(first.app, account.accessToken)).statusCode,
          401,
          `${who}, before the restart`,
        );
      }
      await first.close();

      second = await startIdentity(options);
      for (const [who, account] of Object.entries(revoked)) {
        const answer = await me(second.app, account.accessToken);
        assert.equal(answer.statusCode, 401, `${who}, after the restart`);
        assert.equal(problemOf(answer).code, 'token_revoked', who);
      }
      assert.equal(
        (await me(second.app, untouched.accessToken)).statusCode,
        200,
        'an untouched token passes',
      );
      assert.equal((await me(second.app, admin.accessToken)).statusCode, 200, "the admin's too");
    } finally {
      await second?.close();
      await shared.dispose();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
