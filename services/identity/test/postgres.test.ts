import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type BlockData,
  IdentityEvents,
  type UserDeactivatedData,
  type UserRegisteredData,
  type UserUpdatedData,
} from '@parley/contracts';
import type { EventEnvelope } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { migrate, openDatabase } from '@parley/store';
import { openPostgresTestDatabase } from '@parley/store/testing';
import { KeyRing } from '../src/keys/key-ring.ts';
import { SigningKeyRepository } from '../src/repositories/signing-key-repository.ts';
import { ADMIN, bearer, type Harness, login, me, register, startIdentity, waitFor } from './harness.ts';

const { databaseUrl } = testBackends();
const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

if (databaseUrl) {
  describe('identity on PostgreSQL: the core auth flows', () => {
    let h: Harness;
    before(async () => {
      h = await startIdentity({
        openDatabase: () => openPostgresTestDatabase(databaseUrl),
        keyStorage: 'database',
      });
    });
    after(() => h.close());

    const refresh = (refreshToken: string) =>
      h.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });

    it('keeps the signing keys in the identity schema (distributed mode) and serves them as JWKS', async () => {
      const jwks = (await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
      assert.equal(jwks.keys.length, 1);
      await assert.rejects(stat(join(h.dataDir, 'keys', 'signing-keys.json')), /ENOENT/);
    });

    it('identity nodes starting together agree on one signing key', async () => {
      const test = await openPostgresTestDatabase(databaseUrl);
      const pools = await Promise.all(
        Array.from({ length: 3 }, () => openDatabase({ databaseUrl: test.url, poolSize: 2 })),
      );
      try {
        await migrate(test.database, { schema: 'identity', migrationsFolder });
        const rings = await Promise.all(
          pools.map((database) =>
            KeyRing.open(new SigningKeyRepository(database), { maxAgeMs: 86_400_000, retainMs: 1_000_000 }),
          ),
        );
        const kids = new Set(rings.map((ring) => ring.signingKey().kid));
        assert.equal(kids.size, 1);
      } finally {
        await Promise.all(pools.map((database) => database.close()));
        await test.dispose();
      }
    });

    it('registers, signs in, reads me, logs out', async () => {
      const account = await register(h.app);
      const session = await login(h.app, account.email, account.password);
      assert.equal((await me(h.app, session.accessToken)).statusCode, 200);
      const out = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: bearer(session.accessToken),
      });
      assert.equal(out.statusCode, 204);
      assert.equal((await me(h.app, session.accessToken)).statusCode, 401);
      assert.equal((await me(h.app, account.accessToken)).statusCode, 200);
    });

    it('10 parallel refreshes with one token (real row locks) leave one surviving chain', async () => {
      const account = await register(h.app);
      const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(account.refreshToken)));
      for (const response of responses) assert.equal(response.statusCode, 200, response.body);
      const heads = new Set(responses.map((response) => response.json().refreshToken));
      assert.equal(heads.size, 1);
      const [head] = [...heads] as [string];
      const next = await refresh(head);
      assert.equal(next.statusCode, 200);
      assert.equal((await refresh(account.refreshToken)).statusCode, 401, 'reuse of an ancestor');
      assert.equal((await refresh(next.json().refreshToken)).statusCode, 401, 'the family is revoked');
    });

    it('deactivation makes the access token fail on the next request', async () => {
      const admin = await login(h.app, ADMIN.email, ADMIN.password);
      const user = await register(h.app);
      assert.equal((await me(h.app, user.accessToken)).statusCode, 200);
      const response = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${user.id}`,
        headers: bearer(admin.accessToken),
        payload: { active: false },
      });
      assert.equal(response.statusCode, 200);
      assert.equal((await me(h.app, user.accessToken)).statusCode, 401);
    });

    it('two admins deactivating each other at once leave one of them active (real row locks)', async () => {
      const first = await login(h.app, ADMIN.email, ADMIN.password);
      const other = await register(h.app);
      const promoted = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${other.id}`,
        headers: bearer(first.accessToken),
        payload: { role: 'admin' },
      });
      assert.equal(promoted.statusCode, 200);
      const second = await login(h.app, other.email, other.password);
      const deactivate = (by: string, id: string) =>
        h.app.inject({
          method: 'PATCH',
          url: `/api/v1/admin/users/${id}`,
          headers: bearer(by),
          payload: { active: false },
        });
      const answers = await Promise.all([
        deactivate(first.accessToken, other.id),
        deactivate(second.accessToken, first.id),
      ]);
      assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [200, 409]);
      const survivor = answers[0]!.statusCode === 200 ? first : second;
      const admins = await h.app.inject({
        method: 'GET',
        url: '/api/v1/admin/users?role=admin',
        headers: bearer(survivor.accessToken),
      });
      assert.equal(admins.statusCode, 200);
      assert.equal(admins.json().items.filter((u: { active: boolean }) => u.active).length, 1);
      // Either may have lost: the survivor reactivates the other, so the tests after this one find the
      // bootstrap admin as they expect.
      const loser = survivor === first ? other : first;
      const restored = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${loser.id}`,
        headers: bearer(survivor.accessToken),
        payload: { active: true },
      });
      assert.equal(restored.statusCode, 200);
    });

    it('numbers racing changes to one block and one account in the order they took effect (real row locks)', async () => {
      const admin = await login(h.app, ADMIN.email, ADMIN.password);
      const [blocker, blocked, target] = await Promise.all([
        register(h.app),
        register(h.app),
        register(h.app),
      ]);
      // Rounds of changes racing each other, so that some of them really take effect concurrently.
      for (let round = 0; round < 10; round++) {
        await Promise.all(
          ['POST', 'DELETE', 'POST', 'DELETE'].map((method) =>
            h.app.inject({
              method: method as 'POST' | 'DELETE',
              url: `/api/v1/users/${blocked.id}/block`,
              headers: bearer(blocker.accessToken),
            }),
          ),
        );
        await Promise.all(
          [false, true, false, true].map((active) =>
            h.app.inject({
              method: 'PATCH',
              url: `/api/v1/admin/users/${target.id}`,
              headers: bearer(admin.accessToken),
              payload: { active },
            }),
          ),
        );
      }
      // The bus delivers in publish order: once this account's registration is here, so is all the above.
      const marker = await register(h.app);
      await h.identity.flush();
      await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.userRegistered &&
              (e.data as UserRegisteredData).user.id === marker.id,
          ),
        'the marker registration',
      );

      // Every change that took effect flips the state, so ordered by revision the states must alternate,
      // the last being the state identity ended in: what a consumer applying only newer events ends with.
      const statesByRevision = (events: EventEnvelope[], stateOf: (event: EventEnvelope) => boolean) => {
        const revisions = events.map((e) => (e.data as { revision: number }).revision);
        assert.equal(new Set(revisions).size, revisions.length, 'every change its own revision');
        return [...events]
          .sort(
            (a, b) => (a.data as { revision: number }).revision - (b.data as { revision: number }).revision,
          )
          .map(stateOf);
      };
      const alternating = (count: number) => Array.from({ length: count }, (_, i) => i % 2 === 0);

      const blockStates = statesByRevision(
        h.events.filter(
          (e) =>
            (e.type === IdentityEvents.blockCreated || e.type === IdentityEvents.blockDeleted) &&
            (e.data as BlockData).blockerId === blocker.id,
        ),
        (e) => e.type === IdentityEvents.blockCreated,
      );
      assert.ok(blockStates.length > 2, 'some blocks and unblocks took effect');
      assert.deepEqual(blockStates, alternating(blockStates.length));
      assert.equal(blockStates.at(-1), await h.identity.blocks.hasBlocked(blocker.id, blocked.id));

      const activeStates = statesByRevision(
        h.events.filter(
          (e) =>
            (e.type === IdentityEvents.userDeactivated &&
              (e.data as UserDeactivatedData).userId === target.id) ||
            ((e.type === IdentityEvents.userUpdated || e.type === IdentityEvents.userRegistered) &&
              (e.data as UserUpdatedData).user.id === target.id),
        ),
        (e) => e.type !== IdentityEvents.userDeactivated && (e.data as UserUpdatedData).user.active,
      );
      assert.ok(activeStates.length > 2, 'some deactivations and reactivations took effect');
      assert.deepEqual(activeStates, alternating(activeStates.length));
      const listed = await h.app.inject({
        method: 'GET',
        url: `/api/v1/admin/users?q=${encodeURIComponent(target.email)}`,
        headers: bearer(admin.accessToken),
      });
      const [account] = listed.json().items as { id: string; active: boolean }[];
      assert.equal(account?.id, target.id);
      assert.equal(activeStates.at(-1), account.active);
    });

    it('holds the per-user API key cap when keys are created in parallel', async () => {
      const account = await register(h.app);
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          h.app.inject({
            method: 'POST',
            url: '/api/v1/auth/api-keys',
            headers: bearer(account.accessToken),
            payload: { name: `key ${i}` },
          }),
        ),
      );
      const statuses = answers.map((answer) => answer.statusCode);
      assert.equal(statuses.filter((status) => status === 201).length, 50, 'exactly the cap');
      assert.ok(
        answers
          .filter((answer) => answer.statusCode !== 201)
          .every((answer) => answer.json().code === 'too_many_api_keys'),
      );
      const listed = await h.app.inject({
        method: 'GET',
        url: '/api/v1/auth/api-keys',
        headers: bearer(account.accessToken),
      });
      assert.equal(listed.json().items.length, 50);
    });
  });
} else {
  describe('identity on PostgreSQL', {
    skip: skipReason('DATABASE_URL', 'identity core flows on PostgreSQL'),
  }, () => {});
}
