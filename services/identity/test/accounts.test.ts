import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BlockData, IdentityEvents } from '@parley/contracts';
import { lastSeenKey, presenceKey } from '@parley/kernel';
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

describe('identity: API keys, profiles, directory, blocks, admin', () => {
  let h: Harness;
  let offsetMs = 0;
  let admin: Account;
  before(async () => {
    h = await startIdentity({ clock: () => new Date(Date.now() + offsetMs) });
    admin = await login(h.app, ADMIN.email, ADMIN.password);
  });
  after(() => h.close());

  const createKey = (account: Account, payload: Record<string, unknown>) =>
    h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/api-keys',
      headers: bearer(account.accessToken),
      payload,
    });

  describe('API keys', () => {
    it('creates a key shown once, lists it without the key, and accepts it as a bearer on REST', async () => {
      const account = await register(h.app);
      const created = await createKey(account, { name: 'deploy script' });
      assert.equal(created.statusCode, 201);
      const body = created.json();
      assert.match(body.key, /^prly_[\w-]{43}$/);
      assert.equal(body.name, 'deploy script');
      assert.ok(body.key.startsWith(body.prefix));
      assert.equal(body.expiresAt, null);
      const list = await h.app.inject({
        method: 'GET',
        url: '/api/v1/auth/api-keys',
        headers: bearer(account.accessToken),
      });
      assert.equal(list.statusCode, 200);
      assert.equal(list.json().items.length, 1);
      assert.equal(list.json().items[0].key, undefined);
      assert.doesNotMatch(list.body, new RegExp(body.key));
      const viaKey = await me(h.app, body.key);
      assert.equal(viaKey.statusCode, 200);
      assert.equal(viaKey.json().id, account.id);
      const used = await h.app.inject({
        method: 'GET',
        url: '/api/v1/auth/api-keys',
        headers: bearer(account.accessToken),
      });
      assert.ok(used.json().items[0].lastUsedAt);
    });

    it('deleting a key stops it at once; someone else’s key is 404', async () => {
      const account = await register(h.app);
      const stranger = await register(h.app);
      const { id, key } = (await createKey(account, { name: 'ci' })).json();
      const foreign = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/auth/api-keys/${id}`,
        headers: bearer(stranger.accessToken),
      });
      assert.equal(foreign.statusCode, 404);
      assert.equal((await me(h.app, key)).statusCode, 200);
      const deleted = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/auth/api-keys/${id}`,
        headers: bearer(account.accessToken),
      });
      assert.equal(deleted.statusCode, 204);
      assert.equal((await me(h.app, key)).statusCode, 401);
    });

    it('puts nothing on the deny list for an id that is no key of the caller', async () => {
      const account = await register(h.app);
      const stranger = await register(h.app);
      const { id } = (await createKey(account, { name: 'theirs' })).json();
      // Every request of the user reads their whole deny set: deletes of made-up ids must not grow it.
      for (const made of ['key_made_up_1', 'key_made_up_2', id]) {
        const refused = await h.app.inject({
          method: 'DELETE',
          url: `/api/v1/auth/api-keys/${made}`,
          headers: bearer(stranger.accessToken),
        });
        assert.equal(refused.statusCode, 404);
      }
      assert.deepEqual(await h.cache.members(`auth:deny:${stranger.id}`), []);
    });

    it('expires keys; refuses past expiries, unknown fields, and key creation with an API key', async () => {
      const account = await register(h.app);
      const soon = new Date(Date.now() + 3600_000).toISOString();
      const { key } = (await createKey(account, { name: 'short-lived', expiresAt: soon })).json();
      assert.equal((await me(h.app, key)).statusCode, 200);
      offsetMs += 2 * 3600_000;
      try {
        assert.equal((await me(h.app, key)).statusCode, 401);
      } finally {
        offsetMs -= 2 * 3600_000;
      }
      const past = await createKey(account, { name: 'x', expiresAt: '2020-01-01T00:00:00Z' });
      assert.equal(past.statusCode, 400);
      assert.equal(problemOf(past).code, 'validation_failed');
      assert.equal((await createKey(account, { name: 'x', scope: 'admin' })).statusCode, 400);
      assert.equal((await createKey(account, { name: '' })).statusCode, 400);
      const viaKey = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/api-keys',
        headers: bearer(key),
        payload: { name: 'child' },
      });
      assert.equal(viaKey.statusCode, 403);
      assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/api-keys' })).statusCode, 401);
      assert.equal((await me(h.app, 'prly_not-a-real-key-at-all')).statusCode, 401);
    });

    it('refuses an expiry that is RFC 3339 but no instant JavaScript can hold (a leap second) with 400', async () => {
      const account = await register(h.app);
      const listKeys = () =>
        h.app.inject({ method: 'GET', url: '/api/v1/auth/api-keys', headers: bearer(account.accessToken) });
      const before = listKeys().then((response) => response.json().items.length);
      const leap = await createKey(account, { name: 'leap', expiresAt: '2030-06-30T23:59:60Z' });
      assert.equal(leap.statusCode, 400, leap.body);
      assert.match(String(leap.headers['content-type']), /^application\/problem\+json/);
      assert.equal(problemOf(leap).code, 'validation_failed');
      const errors = problemOf(leap).errors as Array<{ path: string }>;
      assert.equal(errors[0]?.path, 'body.expiresAt');
      assert.equal((await listKeys()).json().items.length, await before);
    });
  });

  describe('PATCH /api/v1/users/me', () => {
    it('updates display name, avatar, bio and settings, and publishes identity.user.updated', async () => {
      const account = await register(h.app);
      const response = await h.app.inject({
        method: 'PATCH',
        url: '/api/v1/users/me',
        headers: bearer(account.accessToken),
        payload: {
          displayName: 'Grace Hopper',
          avatarUrl: 'https://cdn.example.com/grace.png',
          bio: 'COBOL',
          settings: { theme: 'dark', sounds: false },
        },
      });
      assert.equal(response.statusCode, 200, response.body);
      const user = response.json();
      assert.equal(user.displayName, 'Grace Hopper');
      assert.equal(user.avatarUrl, 'https://cdn.example.com/grace.png');
      assert.equal(user.bio, 'COBOL');
      assert.deepEqual(user.settings, { theme: 'dark', sounds: false });
      await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.userUpdated &&
              (e.data as { user: { id: string; displayName: string } }).user.displayName === 'Grace Hopper',
          ),
        'user.updated',
      );
      const cleared = await h.app.inject({
        method: 'PATCH',
        url: '/api/v1/users/me',
        headers: bearer(account.accessToken),
        payload: { avatarUrl: null, bio: null },
      });
      assert.equal(cleared.json().avatarUrl, null);
    });

    it('cannot set role, email or anything unknown (mass assignment) and validates values', async () => {
      const account = await register(h.app);
      for (const payload of [
        { role: 'admin' },
        { email: 'new@example.com' },
        { emailVerified: true },
        { displayName: 'ok', role: 'admin' },
        { avatarUrl: 'javascript:alert(1)' },
        { displayName: '' },
        { bio: 'x'.repeat(1001) },
        { settings: { nested: { deep: true } } },
        // Setting names are bounded like the values: 64 characters.
        { settings: { ['k'.repeat(65)]: true } },
        {},
        // Values the database would store altered: half an emoji (as U+FFFD), Infinity (as null).
        { displayName: 'half \ud83d' },
        '{"settings":{"volume":1e400}}',
      ]) {
        const response = await h.app.inject({
          method: 'PATCH',
          url: '/api/v1/users/me',
          headers: { ...bearer(account.accessToken), 'content-type': 'application/json' },
          payload,
        });
        assert.equal(response.statusCode, 400, JSON.stringify(payload));
        assert.equal(problemOf(response).code, 'validation_failed');
      }
      const user = (await me(h.app, account.accessToken)).json();
      assert.equal(user.role, 'user');
      assert.equal(user.email, account.email);
      assert.deepEqual(user.settings, {});
      const longestName = await h.app.inject({
        method: 'PATCH',
        url: '/api/v1/users/me',
        headers: bearer(account.accessToken),
        payload: { settings: { ['k'.repeat(64)]: true } },
      });
      assert.equal(longestName.statusCode, 200, longestName.body);
      const anonymous = await h.app.inject({
        method: 'PATCH',
        url: '/api/v1/users/me',
        payload: { bio: 'x' },
      });
      assert.equal(anonymous.statusCode, 401);
    });
  });

  describe('directory: GET /api/v1/users and /api/v1/users/{id}', () => {
    it('finds people by display-name word prefix or email prefix; public profiles only', async () => {
      const searcher = await register(h.app);
      const target = await register(h.app, {
        displayName: 'Zebediah Quux',
        email: `zebq.${Date.now()}@example.org`,
      });
      const search = (q: string) =>
        h.app.inject({
          method: 'GET',
          url: `/api/v1/users?q=${encodeURIComponent(q)}`,
          headers: bearer(searcher.accessToken),
        });
      for (const q of ['zebed', 'Quu', 'ZEBQ.']) {
        const response = await search(q);
        assert.equal(response.statusCode, 200);
        const found = response.json().items.find((item: { id: string }) => item.id === target.id);
        assert.ok(found, q);
        assert.deepEqual(Object.keys(found).sort(), ['avatarUrl', 'bio', 'displayName', 'id']);
      }
      assert.equal((await search('ebediah')).json().items.length, 0, 'prefixes only');
      assert.equal((await search('%')).json().items.length, 0, 'wildcards are literal');
      assert.doesNotMatch((await search('zeb')).body, /@/);
      assert.equal(
        (await h.app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer(searcher.accessToken) }))
          .statusCode,
        400,
      );
      assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/users?q=zeb' })).statusCode, 401);
    });

    it('pages with an opaque cursor', async () => {
      const searcher = await register(h.app);
      const tag = `pager${Date.now()}`;
      for (let i = 0; i < 3; i++) await register(h.app, { displayName: `${tag} ${i}` });
      const first = (
        await h.app.inject({
          method: 'GET',
          url: `/api/v1/users?q=${tag}&limit=2`,
          headers: bearer(searcher.accessToken),
        })
      ).json();
      assert.equal(first.items.length, 2);
      assert.ok(first.nextCursor);
      const second = (
        await h.app.inject({
          method: 'GET',
          url: `/api/v1/users?q=${tag}&limit=2&cursor=${first.nextCursor}`,
          headers: bearer(searcher.accessToken),
        })
      ).json();
      assert.equal(second.items.length, 1);
      assert.equal(second.nextCursor, null);
      const bad = await h.app.inject({
        method: 'GET',
        url: `/api/v1/users?q=${tag}&cursor=garbage`,
        headers: bearer(searcher.accessToken),
      });
      assert.equal(bad.statusCode, 400);
      const tooMany = await h.app.inject({
        method: 'GET',
        url: `/api/v1/users?q=${tag}&limit=101`,
        headers: bearer(searcher.accessToken),
      });
      assert.equal(tooMany.statusCode, 400);
      const blank = await h.app.inject({
        method: 'GET',
        url: '/api/v1/users?q=%20%20',
        headers: bearer(searcher.accessToken),
      });
      assert.equal(blank.statusCode, 400, 'a blank search does not list the whole directory');
    });

    it('shows a public profile with presence read from the cache (offline when absent)', async () => {
      const viewer = await register(h.app);
      const target = await register(h.app, { displayName: 'Present Person' });
      const profile = async () =>
        h.app.inject({
          method: 'GET',
          url: `/api/v1/users/${target.id}`,
          headers: bearer(viewer.accessToken),
        });
      const offline = await profile();
      assert.equal(offline.statusCode, 200);
      assert.deepEqual(offline.json(), {
        id: target.id,
        displayName: 'Present Person',
        avatarUrl: null,
        bio: null,
        presence: { status: 'offline', lastSeenAt: null },
      });
      const seen = new Date().toISOString();
      await h.cache.addMember(presenceKey(target.id), 'node-1', 60_000);
      await h.cache.set(lastSeenKey(target.id), seen);
      assert.deepEqual((await profile()).json().presence, { status: 'online', lastSeenAt: seen });
      const missing = await h.app.inject({
        method: 'GET',
        url: '/api/v1/users/usr_01aaaaaaaaaaaaaaaaaaaaaaaa',
        headers: bearer(viewer.accessToken),
      });
      assert.equal(missing.statusCode, 404);
      assert.equal(
        (await h.app.inject({ method: 'GET', url: `/api/v1/users/${target.id}` })).statusCode,
        401,
      );
    });
  });

  describe('blocks', () => {
    it('blocks and unblocks idempotently, lists blocks, publishes events, answers other services', async () => {
      const blocker = await register(h.app);
      const blocked = await register(h.app, { displayName: 'Annoying' });
      const block = () =>
        h.app.inject({
          method: 'POST',
          url: `/api/v1/users/${blocked.id}/block`,
          headers: bearer(blocker.accessToken),
        });
      assert.equal((await block()).statusCode, 204);
      assert.equal((await block()).statusCode, 204);
      assert.equal(await h.identity.blocks.hasBlocked(blocker.id, blocked.id), true);
      assert.equal(await h.identity.blocks.hasBlocked(blocked.id, blocker.id), false);
      assert.equal(await h.identity.blocks.eitherBlocked(blocked.id, blocker.id), true);
      const list = await h.app.inject({
        method: 'GET',
        url: '/api/v1/users/me/blocks',
        headers: bearer(blocker.accessToken),
      });
      assert.equal(list.json().items[0].user.id, blocked.id);
      await waitFor(
        async () => h.events.find((e) => e.type === IdentityEvents.blockCreated),
        'block.created',
      );
      assert.equal(
        h.events.filter((e) => e.type === IdentityEvents.blockCreated).length,
        1,
        'no event for a repeat',
      );
      const unblock = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/users/${blocked.id}/block`,
        headers: bearer(blocker.accessToken),
      });
      assert.equal(unblock.statusCode, 204);
      assert.equal(await h.identity.blocks.hasBlocked(blocker.id, blocked.id), false);
      await waitFor(
        async () => h.events.find((e) => e.type === IdentityEvents.blockDeleted),
        'block.deleted',
      );
      const created = h.events.find((e) => e.type === IdentityEvents.blockCreated)?.data as BlockData;
      const deleted = h.events.find((e) => e.type === IdentityEvents.blockDeleted)?.data as BlockData;
      assert.deepEqual(deleted, { blockerId: blocker.id, blockedId: blocked.id, revision: deleted.revision });
      assert.ok(deleted.revision! > created.revision!, 'a later change to the pair has a larger revision');
    });

    it('refuses blocking yourself (400) and unknown users (404)', async () => {
      const account = await register(h.app);
      const self = await h.app.inject({
        method: 'POST',
        url: `/api/v1/users/${account.id}/block`,
        headers: bearer(account.accessToken),
      });
      assert.equal(self.statusCode, 400);
      const unknown = await h.app.inject({
        method: 'POST',
        url: '/api/v1/users/usr_01aaaaaaaaaaaaaaaaaaaaaaaa/block',
        headers: bearer(account.accessToken),
      });
      assert.equal(unknown.statusCode, 404);
      assert.equal(
        (await h.app.inject({ method: 'POST', url: `/api/v1/users/${account.id}/block` })).statusCode,
        401,
      );
    });
  });

  describe('admin', () => {
    it('lists users for admins only (401 anonymous, 403 below admin), with filters', async () => {
      const user = await register(h.app);
      assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/admin/users' })).statusCode, 401);
      const forbidden = await h.app.inject({
        method: 'GET',
        url: '/api/v1/admin/users',
        headers: bearer(user.accessToken),
      });
      assert.equal(forbidden.statusCode, 403);
      assert.equal(problemOf(forbidden).code, 'forbidden');
      const admins = await h.app.inject({
        method: 'GET',
        url: '/api/v1/admin/users?role=admin',
        headers: bearer(admin.accessToken),
      });
      assert.equal(admins.statusCode, 200);
      assert.ok(admins.json().items.every((u: { role: string }) => u.role === 'admin'));
      assert.ok(admins.json().items.some((u: { email: string }) => u.email === ADMIN.email));
      const byEmail = await h.app.inject({
        method: 'GET',
        url: `/api/v1/admin/users?q=${encodeURIComponent(user.email)}`,
        headers: bearer(admin.accessToken),
      });
      assert.equal(byEmail.json().items[0].id, user.id);
      assert.equal(byEmail.json().items[0].active, true);
      const bad = await h.app.inject({
        method: 'GET',
        url: '/api/v1/admin/users?role=superuser',
        headers: bearer(admin.accessToken),
      });
      assert.equal(bad.statusCode, 400);
    });

    it('deactivation: the user’s access token fails on the very next request; refresh and login refused', async () => {
      const user = await register(h.app);
      const apiKey = (await createKey(user, { name: 'k' })).json().key;
      assert.equal((await me(h.app, user.accessToken)).statusCode, 200, 'cached as verified');
      const response = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${user.id}`,
        headers: bearer(admin.accessToken),
        payload: { active: false },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().active, false);
      const next = await me(h.app, user.accessToken);
      assert.equal(next.statusCode, 401);
      assert.equal(problemOf(next).code, 'token_revoked');
      assert.equal((await me(h.app, apiKey)).statusCode, 401, 'API keys stop too');
      const refresh = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: user.refreshToken },
      });
      assert.equal(refresh.statusCode, 401);
      const signIn = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: user.email, password: user.password },
      });
      assert.equal(signIn.statusCode, 403);
      assert.equal(problemOf(signIn).code, 'account_disabled');
      await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.userDeactivated && (e.data as { userId: string }).userId === user.id,
          ),
        'user.deactivated',
      );
      const revoked = await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.sessionRevoked && (e.data as { userId: string }).userId === user.id,
          ),
        'session.revoked (deactivated)',
      );
      assert.deepEqual(revoked.data, {
        userId: user.id,
        sessionIds: [user.sessionId],
        allSessions: true,
        reason: 'deactivated',
      });

      const reactivated = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${user.id}`,
        headers: bearer(admin.accessToken),
        payload: { active: true },
      });
      assert.equal(reactivated.json().active, true);
      const again = await login(h.app, user.email, user.password);
      assert.equal((await me(h.app, again.accessToken)).statusCode, 200);
    });

    it('a role change takes effect at once: old tokens stop, refreshed ones carry the new role', async () => {
      const user = await register(h.app);
      const promoted = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${user.id}`,
        headers: bearer(admin.accessToken),
        payload: { role: 'agent' },
      });
      assert.equal(promoted.json().role, 'agent');
      assert.equal((await me(h.app, user.accessToken)).statusCode, 401);
      const refreshed = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: user.refreshToken },
      });
      assert.equal(refreshed.statusCode, 200, 'the session survives a role change');
      const claims = JSON.parse(
        Buffer.from(refreshed.json().accessToken.split('.')[1], 'base64url').toString(),
      );
      assert.equal(claims.role, 'agent');
      assert.equal((await me(h.app, refreshed.json().accessToken)).json().role, 'agent');
    });

    it('a second role change in the same second still stops the tokens issued after the first', async () => {
      const user = await register(h.app);
      const setRole = (role: string) =>
        h.app.inject({
          method: 'PATCH',
          url: `/api/v1/admin/users/${user.id}`,
          headers: bearer(admin.accessToken),
          payload: { role },
        });
      // The identity clock at the very start of a second: everything below happens within it.
      const saved = offsetMs;
      offsetMs = 1000 - (Date.now() % 1000) + 5;
      try {
        assert.equal((await setRole('manager')).statusCode, 200);
        const refreshed = await h.app.inject({
          method: 'POST',
          url: '/api/v1/auth/refresh',
          payload: { refreshToken: user.refreshToken },
        });
        assert.equal(refreshed.statusCode, 200);
        const managerToken = refreshed.json().accessToken as string;
        assert.equal((await me(h.app, managerToken)).json().role, 'manager');
        assert.equal((await setRole('user')).statusCode, 200);
        assert.ok((Date.now() + offsetMs) % 1000 < 900, 'the test ran within one second');
        assert.equal((await me(h.app, managerToken)).statusCode, 401, 'the manager token is cut off');
        // ...and the session lives on with the role it has now.
        const again = await h.app.inject({
          method: 'POST',
          url: '/api/v1/auth/refresh',
          payload: { refreshToken: refreshed.json().refreshToken },
        });
        assert.equal(again.statusCode, 200);
        assert.equal((await me(h.app, again.json().accessToken)).json().role, 'user');
      } finally {
        offsetMs = saved;
      }
    });

    it('refuses to remove the last active admin (409), unknown users (404) and bad bodies (400)', async () => {
      const demote = await h.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${admin.id}`,
        headers: bearer(admin.accessToken),
        payload: { role: 'user' },
      });
      assert.equal(demote.statusCode, 409);
      assert.equal(problemOf(demote).code, 'last_admin');
      const remove = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/admin/users/${admin.id}`,
        headers: bearer(admin.accessToken),
      });
      assert.equal(remove.statusCode, 409);
      const unknown = await h.app.inject({
        method: 'PATCH',
        url: '/api/v1/admin/users/usr_01aaaaaaaaaaaaaaaaaaaaaaaa',
        headers: bearer(admin.accessToken),
        payload: { active: false },
      });
      assert.equal(unknown.statusCode, 404);
      for (const payload of [{}, { role: 'owner' }, { email: 'x@y.z' }, { active: 'no' }]) {
        const response = await h.app.inject({
          method: 'PATCH',
          url: `/api/v1/admin/users/${admin.id}`,
          headers: bearer(admin.accessToken),
          payload,
        });
        assert.equal(response.statusCode, 400, JSON.stringify(payload));
      }
    });

    it('deletes a user: tokens die at once, identity.user.deleted is published, the email is free again', async () => {
      const user = await register(h.app);
      const user2 = await register(h.app);
      const forbidden = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/admin/users/${user2.id}`,
        headers: bearer(user.accessToken),
      });
      assert.equal(forbidden.statusCode, 403);
      const deleted = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/admin/users/${user.id}`,
        headers: bearer(admin.accessToken),
      });
      assert.equal(deleted.statusCode, 204);
      assert.equal((await me(h.app, user.accessToken)).statusCode, 401);
      await waitFor(
        async () =>
          h.events.find(
            (e) => e.type === IdentityEvents.userDeleted && (e.data as { userId: string }).userId === user.id,
          ),
        'user.deleted',
      );
      const again = await h.app.inject({
        method: 'DELETE',
        url: `/api/v1/admin/users/${user.id}`,
        headers: bearer(admin.accessToken),
      });
      assert.equal(again.statusCode, 404);
      await register(h.app, { email: user.email });
    });
  });
});
