import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryBus } from '@parley/bus';
import { IdentityEvents } from '@parley/contracts';
import { createEvent, type EventEnvelope, newId } from '@parley/kernel';
import { queryRows } from '@parley/store';
import { sql } from 'drizzle-orm';
import { IDENTITY_CONSUMER_GROUP } from '../src/events/identity-consumer.ts';
import { databaseBackends } from './support/backends.ts';
import { bearer, type ChatHarness, logger, startChat, type TestUser, waitFor } from './support/harness.ts';
import { HoldingBus } from './support/holding-bus.ts';

const backends = databaseBackends('chat identity events out of order');

const byType = (events: readonly EventEnvelope[], type: string) => events.filter((e) => e.type === type);

for (const backend of backends) {
  describe(`chat: identity events out of order end where identity is (${backend.name})`, () => {
    let chat: ChatHarness;
    let bus: HoldingBus;
    let alice: TestUser;

    before(async () => {
      bus = new HoldingBus(new MemoryBus({ logger }));
      chat = await startChat({ database: await backend.open(), ownsDatabase: true, bus });
      alice = await chat.user();
    });
    after(async () => {
      await chat.close();
      await bus.close();
    });

    /**
     * Delivers `events` in this order and waits until chat's identity consumer is past them: it handles a
     * group's events one at a time, in order, so once a harmless last event is recorded as handled, so is
     * everything before it (an event delivered again included, which the consumer skips by its id).
     */
    async function deliver(events: readonly EventEnvelope[]): Promise<void> {
      const marker = createEvent(IdentityEvents.sessionRevoked, {
        userId: newId('usr'),
        sessionIds: [],
        allSessions: true,
        reason: 'logout_all',
      });
      await bus.release([...events, marker]);
      await waitFor(async () => {
        const rows = await queryRows<{ eventId: string }>(
          chat.database.database.db,
          sql`select event_id as "eventId" from chat.processed_events
            where consumer = ${IDENTITY_CONSUMER_GROUP} and event_id = ${marker.id}`,
        );
        return rows.length === 1;
      });
    }

    const request = (user: TestUser, method: 'POST' | 'PATCH', url: string, payload: object) =>
      chat.app.inject({ method, url, headers: bearer(user), payload });
    const openDirect = (user: TestUser, other: TestUser) =>
      request(user, 'POST', '/api/v1/conversations', { type: 'direct', memberIds: [other.id] });
    const send = (user: TestUser, conversationId: string, body: string) =>
      request(user, 'POST', `/api/v1/conversations/${conversationId}/messages`, { body });
    const block = (blocker: TestUser, blocked: TestUser) =>
      chat.app.inject({ method: 'POST', url: `/api/v1/users/${blocked.id}/block`, headers: bearer(blocker) });
    const unblock = (blocker: TestUser, blocked: TestUser) =>
      chat.app.inject({
        method: 'DELETE',
        url: `/api/v1/users/${blocked.id}/block`,
        headers: bearer(blocker),
      });

    it('an unblock delivered before its block: the two write to each other again, everywhere', async () => {
      const bob = await chat.user();
      const direct = (await openDirect(bob, alice)).json();
      const earlier = (await send(bob, direct.id, 'before the block')).json();
      bus.hold();
      assert.equal((await block(alice, bob)).statusCode, 204);
      assert.equal((await unblock(alice, bob)).statusCode, 204);
      const held = await bus.heldOnce([IdentityEvents.blockCreated, IdentityEvents.blockDeleted]);
      const [created] = byType(held, IdentityEvents.blockCreated);
      const [deleted] = byType(held, IdentityEvents.blockDeleted);
      await deliver([deleted!, created!]);

      // Every place chat reads blocks: the send statement, opening a direct conversation, editing, groups.
      assert.equal((await send(bob, direct.id, 'after the unblock')).statusCode, 201);
      assert.equal((await send(alice, direct.id, 'welcome back')).statusCode, 201);
      assert.equal((await openDirect(bob, alice)).statusCode, 200);
      const edit = await request(bob, 'PATCH', `/api/v1/conversations/${direct.id}/messages/${earlier.id}`, {
        body: 'edited after the unblock',
      });
      assert.equal(edit.statusCode, 200, edit.body);
      const group = await request(alice, 'POST', '/api/v1/conversations', {
        type: 'group',
        memberIds: [bob.id],
      });
      assert.equal(group.statusCode, 201, group.body);

      // The old block delivered once more, late (a redelivery): still nothing between them.
      await deliver([created!]);
      assert.equal((await send(bob, direct.id, 'still fine')).statusCode, 201);
    });

    it('a block, unblock and block again delivered newest first: the block holds', async () => {
      const bob = await chat.user();
      const direct = (await openDirect(bob, alice)).json();
      bus.hold();
      assert.equal((await block(alice, bob)).statusCode, 204);
      assert.equal((await unblock(alice, bob)).statusCode, 204);
      assert.equal((await block(alice, bob)).statusCode, 204);
      const held = await bus.heldOnce([
        IdentityEvents.blockCreated,
        IdentityEvents.blockDeleted,
        IdentityEvents.blockCreated,
      ]);
      const [first, again] = byType(held, IdentityEvents.blockCreated);
      const [deleted] = byType(held, IdentityEvents.blockDeleted);
      await deliver([again!, first!, deleted!]);

      assert.equal((await send(bob, direct.id, 'let me in')).statusCode, 403);
      assert.equal((await openDirect(bob, alice)).statusCode, 403);
    });

    it('a deactivation and reactivation swapped: the account stays active', async () => {
      const carol = await chat.user();
      bus.hold();
      await chat.accounts.deactivate(carol);
      await chat.accounts.reactivate(carol);
      const held = await bus.heldOnce([
        IdentityEvents.userDeactivated,
        IdentityEvents.sessionRevoked,
        IdentityEvents.userUpdated,
      ]);
      await deliver([...held].reverse());

      const opened = await openDirect(alice, carol);
      assert.equal(opened.statusCode, 201, opened.body);
      // The deactivation delivered again, late: carol is still someone to talk to.
      await deliver(byType(held, IdentityEvents.userDeactivated));
      const group = await request(alice, 'POST', '/api/v1/conversations', {
        type: 'group',
        memberIds: [carol.id],
      });
      assert.equal(group.statusCode, 201, group.body);
    });

    it('a reactivation and deactivation swapped: the account stays inactive', async () => {
      const dave = await chat.user();
      await chat.accounts.deactivate(dave);
      await waitFor(async () => (await openDirect(alice, dave)).statusCode === 404);
      bus.hold();
      await chat.accounts.reactivate(dave);
      await chat.accounts.deactivate(dave);
      const held = await bus.heldOnce([
        IdentityEvents.userUpdated,
        IdentityEvents.userDeactivated,
        IdentityEvents.sessionRevoked,
      ]);
      await deliver([...held].reverse());

      const group = await request(alice, 'POST', '/api/v1/conversations', {
        type: 'group',
        memberIds: [dave.id],
      });
      assert.equal(group.statusCode, 404, group.body);
      assert.equal((await openDirect(alice, dave)).statusCode, 404);
    });

    it('a deletion delivered before the registration: the account never becomes someone to talk to', async () => {
      bus.hold();
      const erin = await chat.accounts.register();
      await chat.accounts.remove(erin);
      const held = await bus.heldOnce([IdentityEvents.userRegistered, IdentityEvents.userDeleted]);
      const registered = byType(held, IdentityEvents.userRegistered);
      await deliver([...byType(held, IdentityEvents.userDeleted), ...registered]);

      assert.equal((await openDirect(alice, erin)).statusCode, 404);
    });

    it('events from before identity numbered its changes still apply, but never over a numbered one', async () => {
      const frank = await chat.user();
      // An identity that predates revisions: its events carry none.
      const snapshot = (active: boolean) => ({
        user: {
          id: frank.id,
          email: frank.email,
          displayName: 'Frank',
          role: 'user' as const,
          avatarUrl: null,
          active,
        },
      });
      const stale = createEvent(IdentityEvents.userUpdated, snapshot(false));
      await deliver([stale]);
      assert.equal((await openDirect(alice, frank)).statusCode, 201, 'a numbered registration is newer');

      const legacyUser = `usr_legacy_${Date.now()}`;
      const legacy = (active: boolean) =>
        createEvent(IdentityEvents.userUpdated, {
          user: { ...snapshot(active).user, id: legacyUser, email: `${legacyUser}@example.com` },
        });
      await deliver([legacy(true), legacy(false)]);
      const rows = await queryRows<{ active: boolean }>(
        chat.database.database.db,
        sql`select active from chat.users where id = ${legacyUser}`,
      );
      assert.deepEqual(rows, [{ active: false }], 'unnumbered events apply in arrival order, as before');
    });
  });
}
