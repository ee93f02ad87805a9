import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Message } from '@parley/contracts';
import { type ChatClient, collect, connect, nextEvent, sleep } from './support/clients.ts';
import { bearer, type ChatHarness, startChat, type TestUser, waitFor } from './support/harness.ts';
import { SeverableCache } from './support/severable-cache.ts';

describe('chat real time (Socket.IO)', () => {
  let chat: ChatHarness;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let eve: TestUser;
  let conversationId: string;
  const open: ChatClient[] = [];

  const client = async (user: TestUser, token = user.token) => {
    const socket = await connect(chat.url, token);
    open.push(socket);
    return socket;
  };

  before(async () => {
    chat = await startChat({ listen: true, env: { PARLEY_SOCKET_RATE_LIMIT: '2000' } });
    [alice, bob, carol, eve] = await Promise.all([chat.user(), chat.user(), chat.user(), chat.user()]);
    const created = await chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(alice),
      payload: { type: 'group', memberIds: [bob.id, carol.id] },
    });
    conversationId = created.json().id;
  });
  after(async () => {
    for (const socket of open) socket.close();
    await chat.close();
  });

  it('refuses a handshake without a valid token with connect_error "unauthorized"', async () => {
    await assert.rejects(connect(chat.url, undefined), { message: 'unauthorized' });
    await assert.rejects(connect(chat.url, 'not-a-token'), (error: Error & { data?: { code: string } }) => {
      assert.equal(error.message, 'unauthorized');
      assert.equal(error.data?.code, 'invalid_token');
      return true;
    });
    // An API key is for REST: nothing would close a socket opened with it once the key is deleted.
    const key = await chat.app.inject({
      method: 'POST',
      url: '/api/v1/auth/api-keys',
      headers: bearer(alice),
      payload: { name: 'script' },
    });
    assert.equal(key.statusCode, 201, key.body);
    await assert.rejects(connect(chat.url, key.json().key), { message: 'unauthorized' });
  });

  it('acks a send once stored and fans it out to every member’s sockets (all tabs), never to outsiders', async () => {
    const [aliceSocket, bobTab1, bobTab2, carolSocket, eveSocket] = await Promise.all([
      client(alice),
      client(bob),
      client(bob),
      client(carol),
      client(eve),
    ]);
    const eveGot = collect(eveSocket, 'message:new');
    const waits = [bobTab1, bobTab2, carolSocket, aliceSocket].map((socket) =>
      nextEvent(socket, 'message:new'),
    );
    const ack = await aliceSocket.emitWithAck('message:send', {
      conversationId,
      body: 'hi all',
      clientMessageId: 'fan-1',
    });
    assert.equal(ack.ok, true);
    const message = (ack as { message: Message }).message;
    assert.equal(message.body, 'hi all');
    for (const received of await Promise.all(waits)) assert.equal(received.id, message.id);
    const replay = await aliceSocket.emitWithAck('message:send', {
      conversationId,
      body: 'hi all',
      clientMessageId: 'fan-1',
    });
    assert.equal(replay.ok, true);
    assert.equal((replay as { message: Message }).message.id, message.id);
    await sleep(100);
    assert.equal(eveGot.length, 0);
  });

  it('answers an outsider’s events with error acks and keeps the socket up', async () => {
    const eveSocket = await client(eve);
    const send = await eveSocket.emitWithAck('message:send', {
      conversationId,
      body: 'let me in',
      clientMessageId: 'x',
    });
    assert.deepEqual(send.ok, false);
    assert.equal((send as { error: { code: string } }).error.code, 'not_found');
    const typing = await eveSocket.emitWithAck('typing', { conversationId, typing: true });
    assert.equal((typing as { error: { code: string } }).error.code, 'not_found');
    const receipt = await eveSocket.emitWithAck('receipt', { conversationId, seq: 1, kind: 'read' });
    assert.equal((receipt as { error: { code: string } }).error.code, 'not_found');
    const sync = await eveSocket.emitWithAck('sync', { conversations: { [conversationId]: 0 } });
    assert.equal(sync.ok, true);
    assert.deepEqual((sync as { messages: Message[] }).messages, []);
    assert.ok(eveSocket.connected);
  });

  it('acks malformed payloads with validation_failed without dropping the socket', async () => {
    const socket = await client(alice);
    const emitRaw = (event: string, payload: unknown) =>
      (
        socket.emitWithAck as (
          event: string,
          payload: unknown,
        ) => Promise<{ ok: boolean; error?: { code: string } }>
      )(event, payload);
    for (const [event, payload] of [
      ['message:send', { conversationId }],
      ['message:send', { conversationId, body: 'x', clientMessageId: 'y', extra: true }],
      ['message:send', 'just a string'],
      ['message:send', null],
      ['typing', { conversationId, typing: 'yes' }],
      ['receipt', { conversationId, seq: -1, kind: 'read' }],
      ['receipt', { conversationId, seq: 1, kind: 'seen' }],
      ['sync', { conversations: { [conversationId]: 'zero' } }],
      ['sync', { conversations: {}, since: 'garbage' }],
      // Keys are conversation ids, held to their length as everywhere else.
      ['sync', { conversations: { ['x'.repeat(65)]: 0 } }],
      ['sync', { conversations: { '': 0 } }],
      // Valid JSON the database cannot hold: a NUL character, a seq beyond its column.
      ['message:send', { conversationId, body: 'nul \u0000 here', clientMessageId: 'nul' }],
      ['receipt', { conversationId, seq: 99_999_999_999, kind: 'read' }],
      ['sync', { conversations: { [conversationId]: 99_999_999_999 } }],
    ] as const) {
      const ack = await emitRaw(event, payload);
      assert.equal(ack.ok, false, `${event} ${JSON.stringify(payload)}`);
      assert.equal(ack.error?.code, 'validation_failed', `${event} ${JSON.stringify(payload)}`);
    }
    const tooBig = await socket.emitWithAck('message:send', {
      conversationId,
      body: 'x'.repeat(17 * 1024),
      clientMessageId: 'big',
    });
    assert.equal((tooBig as { error: { code: string } }).error.code, 'payload_too_large');
    // Within the limit in UTF-8, six times as long once JSON-escaped on the wire: still an answer.
    const escaped = await socket.emitWithAck('message:send', {
      conversationId,
      body: `${'\u0001'.repeat(16 * 1024 - 2)}ok`,
      clientMessageId: 'escaped',
    });
    assert.equal(escaped.ok, true, JSON.stringify(escaped).slice(0, 200));
    const unknown = await emitRaw('no:such:event', {});
    assert.equal(unknown.ok, false);
    assert.equal(unknown.error?.code, 'unknown_event');
    assert.ok(socket.connected);
    const fine = await socket.emitWithAck('typing', { conversationId, typing: false });
    assert.equal(fine.ok, true);
  });

  it('acks a large malformed payload at once: its problem is not searched for at any cost', async () => {
    const socket = await client(alice);
    // 80 KB of bad attachment ids: naming their problem (TypeBox's Errors) took seconds of the process.
    const ack = (await (
      socket.timeout(3000).emitWithAck as (event: string, payload: unknown) => Promise<unknown>
    )('message:send', {
      conversationId,
      body: 'x',
      clientMessageId: 'many-attachments',
      attachmentIds: Array.from({ length: 40_000 }, () => 1),
    })) as { ok: boolean; error?: { code: string; message: string } };
    assert.equal(ack.ok, false);
    assert.equal(ack.error?.code, 'validation_failed');
    const small = (await (socket.emitWithAck as (event: string, payload: unknown) => Promise<unknown>)(
      'message:send',
      { conversationId, body: 'x', clientMessageId: 'one-bad-attachment', attachmentIds: [1] },
    )) as { ok: boolean; error?: { code: string; message: string } };
    assert.match(small.error?.message ?? '', /attachmentIds/, 'a small payload is told where its problem is');
    assert.ok(socket.connected);
  });

  it('tells nothing across a block in a direct conversation: no typing, no read receipts', async () => {
    const direct = (
      await chat.app.inject({
        method: 'POST',
        url: '/api/v1/conversations',
        headers: bearer(alice),
        payload: { type: 'direct', memberIds: [eve.id] },
      })
    ).json();
    const sent = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${direct.id}/messages`,
      headers: bearer(alice),
      payload: { body: 'hi eve' },
    });
    assert.equal(sent.statusCode, 201);
    const blocked = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/users/${eve.id}/block`,
      headers: bearer(alice),
    });
    assert.ok(blocked.statusCode < 300, blocked.body);
    const aliceSocket = await client(alice);
    const eveSocket = await client(eve);
    const heard = collect(aliceSocket, 'typing');
    const receipts = collect(aliceSocket, 'receipt');
    await waitFor(async () => {
      const typing = await eveSocket.emitWithAck('typing', { conversationId: direct.id, typing: true });
      return !typing.ok && typing.error.code === 'forbidden';
    });
    const read = await eveSocket.emitWithAck('receipt', { conversationId: direct.id, seq: 1, kind: 'read' });
    assert.equal(read.ok, true, 'her own read position is still kept');
    await sleep(300);
    assert.deepEqual(heard, [], 'alice hears no typing from eve');
    assert.deepEqual(
      receipts.filter((event) => event.userId === eve.id),
      [],
      'alice does not learn eve read it',
    );
  });

  it('relays typing to the other members only, throttled, and expires it', async () => {
    const [aliceSocket, bobSocket, eveSocket] = await Promise.all([client(alice), client(bob), client(eve)]);
    const bobGot = collect(bobSocket, 'typing');
    const aliceGot = collect(aliceSocket, 'typing');
    const eveGot = collect(eveSocket, 'typing');
    for (let i = 0; i < 5; i++)
      assert.equal((await aliceSocket.emitWithAck('typing', { conversationId, typing: true })).ok, true);
    await waitFor(() => bobGot.length >= 1);
    await sleep(100);
    assert.deepEqual(bobGot, [{ conversationId, userId: alice.id, typing: true }]);
    assert.equal(aliceGot.length, 0);
    // Without a refresh, typing ends by itself after a few seconds.
    await waitFor(() => bobGot.length === 2, 8000);
    assert.deepEqual(bobGot[1], { conversationId, userId: alice.id, typing: false });
    assert.equal(eveGot.length, 0);
  });

  it('lets an agent type in a support conversation before joining it, held-back starts included', async () => {
    // The person waiting for help should see someone is on it before the agent's first message.
    const [agent, customer] = await Promise.all([chat.user('agent'), chat.user()]);
    const supportId = (await chat.createSupport(customer)).id;
    const [agentSocket, customerSocket, outsiderSocket] = await Promise.all([
      client(agent),
      client(customer),
      client(eve),
    ]);
    const heard = collect(customerSocket, 'typing');
    const typing = (socket: ChatClient, value: boolean) =>
      socket.emitWithAck('typing', { conversationId: supportId, typing: value });
    assert.equal((await typing(agentSocket, true)).ok, true);
    await waitFor(() => heard.length === 1);
    assert.deepEqual(heard[0], { conversationId: supportId, userId: agent.id, typing: true });
    // Stopped and started again within the throttle window: the start is said once the window has passed.
    assert.equal((await typing(agentSocket, false)).ok, true);
    assert.equal((await typing(agentSocket, true)).ok, true);
    await waitFor(() => heard.length === 3, 5000);
    assert.deepEqual(
      heard.map((event) => event.typing),
      [true, false, true],
    );
    // People other than staff still need to be members.
    const outsider = await typing(outsiderSocket, true);
    assert.equal(!outsider.ok && outsider.error.code, 'not_found');
  });

  it('keeps the typing throttle through stop-start, and one tab closing leaves the other typing', async () => {
    const [tabOne, tabTwo, bobSocket] = await Promise.all([client(carol), client(carol), client(bob)]);
    const bobGot = collect(bobSocket, 'typing');
    const typing = (socket: ChatClient, value: boolean) =>
      socket.emitWithAck('typing', { conversationId, typing: value });
    for (let i = 0; i < 5; i++) {
      await typing(tabOne, true);
      await typing(tabOne, false);
    }
    await typing(tabOne, true);
    await sleep(300);
    const said = () => bobGot.map((event) => event.typing);
    assert.deepEqual(said(), [true, false], 'one start and one stop inside the window, not five of each');
    // Still typing once the window has passed: said then.
    await waitFor(() => bobGot.length === 3, 4000);
    assert.deepEqual(said(), [true, false, true]);

    await typing(tabTwo, true);
    tabOne.close();
    await sleep(300);
    assert.deepEqual(said(), [true, false, true], 'the other tab still types');
    await typing(tabTwo, false);
    await waitFor(() => bobGot.length === 4);
    assert.deepEqual(bobGot[3], { conversationId, userId: carol.id, typing: false });
  });

  it('says a held-back typing start only to who is a member when it is said', async () => {
    const [owner, leaving, staying] = await Promise.all([chat.user(), chat.user(), chat.user()]);
    const group = await chat.createGroup(owner, [leaving.id, staying.id]);
    const [ownerSocket, leavingSocket, stayingSocket] = await Promise.all([
      client(owner),
      client(leaving),
      client(staying),
    ]);
    const typing = (value: boolean) =>
      ownerSocket.emitWithAck('typing', { conversationId: group.id, typing: value });
    await typing(true);
    await typing(false);
    // Started again inside the throttle window: held back until it has passed.
    await typing(true);
    const leavingGot = collect(leavingSocket, 'typing');
    const stayingGot = collect(stayingSocket, 'typing');
    const removed = await chat.app.inject({
      method: 'DELETE',
      url: `/api/v1/conversations/${group.id}/members/${leaving.id}`,
      headers: bearer(owner),
    });
    assert.equal(removed.statusCode, 204, removed.body);
    await waitFor(() => stayingGot.length >= 1, 4000);
    assert.deepEqual(stayingGot, [{ conversationId: group.id, userId: owner.id, typing: true }]);
    await sleep(200);
    assert.deepEqual(leavingGot, [], 'no longer a member: told nothing of the conversation');
  });

  it('says nothing of a held-back typing start across a block made while it was held back', async () => {
    const [typist, watcher] = await Promise.all([chat.user(), chat.user()]);
    const direct = await chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(typist),
      payload: { type: 'direct', memberIds: [watcher.id] },
    });
    assert.equal(direct.statusCode, 201, direct.body);
    const directId = direct.json().id as string;
    const [typistSocket, watcherSocket] = await Promise.all([client(typist), client(watcher)]);
    const heard = collect(watcherSocket, 'typing');
    const typing = (value: boolean) =>
      typistSocket.emitWithAck('typing', { conversationId: directId, typing: value });
    await typing(true);
    await typing(false);
    await waitFor(() => heard.length === 2);
    // Started again inside the throttle window: held back, and the watcher blocks the typist meanwhile.
    assert.equal((await typing(true)).ok, true);
    const blocked = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/users/${typist.id}/block`,
      headers: bearer(watcher),
    });
    assert.ok(blocked.statusCode < 300, blocked.body);
    await sleep(2500);
    assert.deepEqual(
      heard.map((event) => event.typing),
      [true, false],
      'the held-back start is not said once a block stands between them',
    );
  });

  it('stores receipts as high-water marks and tells the members', async () => {
    const [aliceSocket, bobSocket] = await Promise.all([client(alice), client(bob)]);
    const sent = await aliceSocket.emitWithAck('message:send', {
      conversationId,
      body: 'read me',
      clientMessageId: 'rcpt',
    });
    const seq = (sent as { message: Message }).message.seq;
    const aliceGot = collect(aliceSocket, 'receipt');
    assert.equal(
      (await bobSocket.emitWithAck('receipt', { conversationId, seq, kind: 'delivered' })).ok,
      true,
    );
    assert.equal((await bobSocket.emitWithAck('receipt', { conversationId, seq, kind: 'read' })).ok, true);
    // Lower marks change nothing and announce nothing.
    assert.equal((await bobSocket.emitWithAck('receipt', { conversationId, seq: 1, kind: 'read' })).ok, true);
    await waitFor(() => aliceGot.length >= 2);
    await sleep(100);
    assert.deepEqual(aliceGot, [
      { conversationId, userId: bob.id, seq, kind: 'delivered' },
      { conversationId, userId: bob.id, seq, kind: 'read' },
    ]);
    const view = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${conversationId}`,
      headers: bearer(bob),
    });
    assert.equal(view.json().unreadCount, 0);
  });

  it('shares presence with conversation members: online with the first tab, offline after the last', async () => {
    const dave = await chat.user();
    const frank = await chat.user();
    await chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(dave),
      payload: { type: 'direct', memberIds: [frank.id] },
    });
    const frankSocket = await client(frank);
    const seen = collect(frankSocket, 'presence');
    const eveSocket = await client(eve);
    const eveSeen = collect(eveSocket, 'presence');
    const tab1 = await client(dave);
    const tab2 = await client(dave);
    await waitFor(() => seen.length >= 1);
    assert.equal(seen[0]?.userId, dave.id);
    assert.equal(seen[0]?.status, 'online');
    tab1.close();
    await sleep(200);
    assert.equal(seen.length, 1, 'closing one of two tabs keeps the user online');
    tab2.close();
    await waitFor(() => seen.length >= 2);
    assert.equal(seen[1]?.status, 'offline');
    assert.ok(seen[1]?.lastSeenAt);
    assert.equal(eveSeen.filter((event) => event.userId === dave.id).length, 0);
  });

  it('tells every member’s sockets when a conversation is deleted, and no one else', async () => {
    const group = await chat.createGroup(alice, [bob.id]);
    const [aliceSocket, bobSocket, eveSocket] = await Promise.all([client(alice), client(bob), client(eve)]);
    const eveGot = collect(eveSocket, 'conversation:deleted');
    const told = [aliceSocket, bobSocket].map((socket) => nextEvent(socket, 'conversation:deleted'));
    const deleted = await chat.app.inject({
      method: 'DELETE',
      url: `/api/v1/conversations/${group.id}`,
      headers: bearer(alice),
    });
    assert.equal(deleted.statusCode, 204);
    for (const event of await Promise.all(told)) assert.deepEqual(event, { conversationId: group.id });
    await sleep(100);
    assert.equal(eveGot.length, 0);
  });

  it('disconnects the sockets of a session ended by logout, saying why, and keeps the others', async () => {
    const gina = await chat.user();
    const otherDevice = await chat.accounts.login(gina);
    const [revokedSocket, keptSocket] = await Promise.all([client(gina), client(otherDevice)]);
    const ended = nextEvent(revokedSocket, 'session:ended');
    const disconnected = new Promise<string>((resolve) => revokedSocket.once('disconnect', resolve));
    await chat.accounts.logout(gina);
    assert.deepEqual(await ended, { reason: 'session_revoked' });
    assert.equal(await disconnected, 'io server disconnect');
    await sleep(100);
    assert.ok(keptSocket.connected);
    await assert.rejects(connect(chat.url, gina.token), { message: 'unauthorized' });
  });

  it('disconnects a session its user ends from another device (DELETE /auth/sessions/{id})', async () => {
    const ivan = await chat.user();
    const laptop = await chat.accounts.login(ivan);
    const socket = await client(ivan);
    const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    await chat.accounts.endSession(laptop, ivan.sessionId);
    assert.equal(await gone, 'io server disconnect');
  });

  it('cuts a deactivated user off on every session when an admin deactivates them', async () => {
    const judy = await chat.user();
    const otherDevice = await chat.accounts.login(judy);
    const sockets = await Promise.all([client(judy), client(otherDevice)]);
    const reasons = sockets.map((socket) => nextEvent(socket, 'session:ended'));
    const gone = sockets.map(
      (socket) => new Promise<string>((resolve) => socket.once('disconnect', resolve)),
    );
    await chat.accounts.deactivate(judy);
    for (const reason of await Promise.all(reasons)) assert.equal(reason.reason, 'deactivated');
    assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
  });

  it('ends the sockets opened with a role the user no longer has, and only those', async () => {
    // A demoted agent's socket would otherwise keep staff rights (every support conversation) until its
    // token expired, although identity denies that token on REST at once.
    const [kim, lee] = await Promise.all([chat.user('agent'), chat.user()]);
    const supportId = (await chat.createSupport(lee)).id;
    const [agentSocket, leeSocket] = await Promise.all([client(kim), client(lee)]);
    const ended = nextEvent(agentSocket, 'session:ended');
    const gone = new Promise<string>((resolve) => agentSocket.once('disconnect', resolve));
    await chat.accounts.setRole(kim, 'user');
    assert.deepEqual(await ended, { reason: 'role_changed' });
    assert.equal(await gone, 'io server disconnect');
    assert.equal(agentSocket.connected, false);
    // Nothing was written with the old role's rights, and a profile update changes no one's role.
    const history = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${supportId}/messages`,
      headers: bearer(lee),
    });
    assert.deepEqual(history.json().items, []);
    await chat.app.inject({
      method: 'PATCH',
      url: '/api/v1/users/me',
      headers: bearer(lee),
      payload: { displayName: 'Lee Again' },
    });
    await sleep(300);
    assert.ok(leeSocket.connected);
  });

  it('disconnects with token_expired when the access token runs out', async () => {
    // Identity's clock runs 26 s behind: its 30 s tokens expire four to five real seconds after issue, time
    // enough to sign up and connect on a loaded machine before the expiry the test waits for.
    const skewed = await startChat({
      listen: true,
      env: { PARLEY_ACCESS_TOKEN_TTL: '30' },
      identityClock: () => new Date(Date.now() - 26_000),
    });
    try {
      const henry = await skewed.user();
      const socket = await connect(skewed.url, henry.token);
      open.push(socket);
      const ended = await nextEvent(socket, 'session:ended', 10_000);
      assert.deepEqual(ended, { reason: 'token_expired' });
      await waitFor(() => !socket.connected);
    } finally {
      await skewed.close();
    }
  });

  /** A second app on the same database, keys and bus, whose way to the cache (the deny list, drafts) can be cut. */
  const startSeverable = async () => {
    let cut: SeverableCache | undefined;
    const severable = await startChat({
      listen: true,
      sharing: chat,
      wrapCache: (cache) => {
        cut = new SeverableCache(cache);
        return cut;
      },
    });
    return { severable, cut: cut! };
  };

  it('refuses a handshake it cannot check (cache unreachable) as unavailable, not as a bad token', async () => {
    const { severable, cut } = await startSeverable();
    try {
      cut.sever();
      // A client told "unauthorized" would throw a good token away; this one should try again.
      await assert.rejects(
        connect(severable.url, alice.token),
        (error: Error & { data?: { code: string } }) => {
          assert.equal(error.message, 'unavailable');
          assert.equal(error.data?.code, 'unavailable');
          return true;
        },
      );
      cut.heal();
      const socket = await connect(severable.url, alice.token);
      open.push(socket);
      assert.ok(socket.connected);
    } finally {
      cut.heal();
      await severable.close();
    }
  });

  it('still catches up when the cache is unreachable, saying that drafts could not be read', async () => {
    const { severable, cut } = await startSeverable();
    try {
      const socket = await connect(severable.url, alice.token);
      open.push(socket);
      const sent = await socket.emitWithAck('message:send', {
        conversationId,
        body: 'stored whatever the cache does',
        clientMessageId: 'sync-without-cache',
      });
      assert.ok(sent.ok);
      const healthy = await socket.emitWithAck('sync', { conversations: { [conversationId]: 0 } });
      assert.ok(healthy.ok);
      assert.equal(healthy.draftsUnavailable, undefined);

      cut.sever();
      const degraded = await socket.emitWithAck('sync', { conversations: { [conversationId]: 0 } });
      assert.ok(degraded.ok, JSON.stringify(degraded));
      assert.equal(degraded.draftsUnavailable, true);
      assert.deepEqual(degraded.drafts, []);
      assert.deepEqual(degraded.messages, healthy.messages, 'every stored message, as with the cache');
      assert.equal(degraded.syncToken, healthy.syncToken);
      const metrics = await severable.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /^chat_syncs_without_drafts_total 1$/m);
    } finally {
      cut.heal();
      await severable.close();
    }
  });

  it('limits events per socket: rate_limited acks, socket kept', async () => {
    // A second app on the same database, keys, cache and bus, with a tight per-socket limit.
    const limited = await startChat({
      listen: true,
      sharing: chat,
      env: { PARLEY_SOCKET_RATE_LIMIT: '5' },
    });
    try {
      const socket = await connect(limited.url, alice.token);
      open.push(socket);
      const acks = [];
      for (let i = 0; i < 7; i++)
        acks.push(await socket.emitWithAck('typing', { conversationId, typing: false }));
      assert.deepEqual(
        acks.map((ack) => ack.ok),
        [true, true, true, true, true, false, false],
      );
      assert.equal((acks[6] as { error: { code: string } }).error.code, 'rate_limited');
      assert.ok(socket.connected);
    } finally {
      await limited.close();
    }
  });

  it('gives 400 parallel sends from several sockets into one conversation seq 1..400, each acked once', async () => {
    const group = await chat.createGroup(alice, [bob.id, carol.id]);
    const senders = await Promise.all([
      client(alice),
      client(alice),
      client(bob),
      client(bob),
      client(carol),
    ]);
    const acks = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        senders[i % senders.length]!.emitWithAck('message:send', {
          conversationId: group.id,
          body: `parallel ${i}`,
          clientMessageId: `p-${i}`,
        }),
      ),
    );
    assert.ok(acks.every((ack) => ack.ok));
    const seqs = acks.map((ack) => (ack as { message: Message }).message.seq).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 400 }, (_, i) => i + 1),
    );
    const view = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${group.id}`,
      headers: bearer(alice),
    });
    assert.equal(view.json().lastSeq, 400);
  });

  it('catches up an offline client: sync returns exactly what it missed, and it ends with the server’s state', async () => {
    const group = await chat.createGroup(alice, [bob.id, carol.id]);
    const cid: string = group.id;
    // Carol's local state, kept the way a client would: by message id.
    const local = new Map<string, Message>();
    const apply = (messages: Message[]) => {
      for (const message of messages) local.set(message.id, message);
    };
    let carolSocket = await client(carol);
    carolSocket.on('message:new', (m) => apply([m]));
    const aliceSocket = await client(alice);
    const first: Message[] = [];
    for (let i = 0; i < 3; i++) {
      const ack = await aliceSocket.emitWithAck('message:send', {
        conversationId: cid,
        body: `before ${i}`,
        clientMessageId: `cu-${i}`,
      });
      first.push((ack as { message: Message }).message);
    }
    await waitFor(() => local.size === 3);
    const initial = await carolSocket.emitWithAck('sync', { conversations: { [cid]: 3 } });
    let token = (initial as { syncToken: string }).syncToken;
    carolSocket.close();

    // Offline: others send, edit and delete (including messages Carol already had).
    const bobSocket = await client(bob);
    for (let i = 0; i < 4; i++) {
      await bobSocket.emitWithAck('message:send', {
        conversationId: cid,
        body: `while away ${i}`,
        clientMessageId: `away-${i}`,
      });
    }
    const base = `/api/v1/conversations/${cid}/messages`;
    await chat.app.inject({
      method: 'PATCH',
      url: `${base}/${first[0]!.id}`,
      headers: bearer(alice),
      payload: { body: 'before 0 (edited)' },
    });
    await chat.app.inject({ method: 'DELETE', url: `${base}/${first[1]!.id}`, headers: bearer(alice) });
    const latest = (
      await chat.app.inject({ method: 'GET', url: `${base}?afterSeq=0&limit=100`, headers: bearer(bob) })
    ).json();
    const newest = latest.items.at(-1);
    await chat.app.inject({
      method: 'PATCH',
      url: `${base}/${newest.id}`,
      headers: bearer(bob),
      payload: { body: 'edited while away' },
    });

    // Back online: subscribe first (connect), then sync.
    carolSocket = await client(carol);
    carolSocket.on('message:new', (m) => apply([m]));
    const lastSeen = Math.max(...[...local.values()].map((m) => m.seq));
    const result = await carolSocket.emitWithAck('sync', {
      conversations: { [cid]: lastSeen },
      since: token,
    });
    assert.equal(result.ok, true);
    const synced = result as {
      messages: Message[];
      changes: Message[];
      more: Record<string, boolean>;
      drafts: unknown[];
      syncToken: string;
    };
    assert.deepEqual(
      synced.messages.map((m) => m.seq),
      [4, 5, 6, 7],
    );
    assert.deepEqual(synced.more, {});
    assert.deepEqual(synced.drafts, []);
    apply(synced.messages);
    apply(synced.changes);
    token = synced.syncToken;

    const server = (
      await chat.app.inject({ method: 'GET', url: `${base}?afterSeq=0&limit=100`, headers: bearer(carol) })
    ).json();
    const mine = [...local.values()].sort((a, b) => a.seq - b.seq);
    assert.deepEqual(mine, server.items);
    assert.equal(mine[0]!.body, 'before 0 (edited)');
    assert.ok(mine[1]!.deletedAt);

    // A second sync with the new token has nothing new.
    const again = await carolSocket.emitWithAck('sync', { conversations: { [cid]: 7 }, since: token });
    assert.deepEqual((again as { messages: Message[] }).messages, []);
    assert.deepEqual((again as { changes: Message[] }).changes, []);
  });

  it('catches staff up on a support conversation they work without joining, and only on what they asked about', async () => {
    const [agent, customer] = await Promise.all([chat.user('agent'), chat.user()]);
    const supportId = (await chat.createSupport(customer)).id;
    const otherSupportId = (await chat.createSupport(customer)).id;
    const customerSocket = await client(customer);
    const sent: Message[] = [];
    for (const [index, id] of [supportId, supportId, supportId, otherSupportId].entries()) {
      const ack = await customerSocket.emitWithAck('message:send', {
        conversationId: id,
        body: `help ${index}`,
        clientMessageId: `staff-sync-${index}`,
      });
      sent.push((ack as { message: Message }).message);
    }
    const agentSocket = await client(agent);
    const first = (await agentSocket.emitWithAck('sync', {
      conversations: { [supportId]: 0, [conversationId]: 0 },
    })) as { ok: boolean; messages: Message[]; syncToken: string };
    assert.equal(first.ok, true);
    // The support conversation's messages; none of the group the agent is not in.
    assert.deepEqual(
      first.messages.map((m) => [m.conversationId, m.body]),
      [
        [supportId, 'help 0'],
        [supportId, 'help 1'],
        [supportId, 'help 2'],
      ],
    );

    const edit = (message: Message, body: string) =>
      chat.app.inject({
        method: 'PATCH',
        url: `/api/v1/conversations/${message.conversationId}/messages/${message.id}`,
        headers: bearer(customer),
        payload: { body },
      });
    assert.equal((await edit(sent[0]!, 'help 0, edited')).statusCode, 200);
    assert.equal((await edit(sent[3]!, 'elsewhere, edited')).statusCode, 200);
    const second = (await agentSocket.emitWithAck('sync', {
      conversations: { [supportId]: 3 },
      since: first.syncToken,
    })) as { messages: Message[]; changes: Message[] };
    assert.deepEqual(second.messages, []);
    // The edit where the agent asked, not the one in the support conversation it did not ask about.
    assert.deepEqual(
      second.changes.map((m) => [m.id, m.body]),
      [[sent[0]!.id, 'help 0, edited']],
    );

    // Someone who is not staff learns nothing of it.
    const outsider = await client(eve);
    const refused = (await outsider.emitWithAck('sync', {
      conversations: { [supportId]: 0 },
      since: first.syncToken,
    })) as { messages: Message[]; changes: Message[] };
    assert.deepEqual(refused.messages, []);
    assert.deepEqual(refused.changes, []);
  });

  it('cuts a long backlog at the cap with more: true', async () => {
    const group = await chat.createGroup(alice, [bob.id]);
    const sender = await client(alice);
    await Promise.all(
      Array.from({ length: 505 }, (_, i) =>
        sender.emitWithAck('message:send', {
          conversationId: group.id,
          body: `b${i}`,
          clientMessageId: `cap-${i}`,
        }),
      ),
    );
    const reader = await client(bob);
    const result = (await reader.emitWithAck('sync', { conversations: { [group.id]: 0 } })) as {
      messages: Message[];
      more: Record<string, boolean>;
    };
    assert.equal(result.messages.length, 500);
    assert.deepEqual(result.more, { [group.id]: true });
    assert.equal(result.messages.at(-1)!.seq, 500);

    // Megabytes each: one at a time per connection, the others told so.
    const atOnce = (await Promise.all(
      Array.from({ length: 4 }, () => reader.emitWithAck('sync', { conversations: { [group.id]: 0 } })),
    )) as { ok: boolean; error?: { code: string } }[];
    assert.equal(atOnce.filter((ack) => ack.ok).length, 1);
    assert.ok(atOnce.filter((ack) => !ack.ok).every((ack) => ack.error?.code === 'sync_in_progress'));
    const after = (await reader.emitWithAck('sync', { conversations: { [group.id]: 500 } })) as {
      messages: Message[];
    };
    assert.equal(after.messages.length, 5);
  });

  it('bounds one sync over many conversations, serving the smallest backlogs whole', async () => {
    const backlogs = [450, 450, 450, 450, 450, 30];
    const groups = await Promise.all(backlogs.map(() => chat.createGroup(alice, [bob.id])));
    const quiet = await chat.createGroup(alice, [bob.id]);
    for (const [index, group] of groups.entries()) {
      // A socket per conversation: one socket's rate limit would refuse most of these sends.
      const sender = await client(alice);
      const acks = await Promise.all(
        Array.from({ length: backlogs[index]! }, (_, i) =>
          sender.emitWithAck('message:send', {
            conversationId: group.id,
            body: `m${i}`,
            clientMessageId: `budget-${index}-${i}`,
          }),
        ),
      );
      assert.ok(acks.every((ack) => ack.ok));
    }
    const reader = await client(bob);
    const conversations = Object.fromEntries([...groups, quiet].map((group) => [group.id, 0]));
    const result = (await reader.emitWithAck('sync', { conversations })) as {
      messages: Message[];
      more: Record<string, boolean>;
    };
    assert.equal(result.messages.length, 2000, 'the whole budget, no more');
    const byConversation = new Map<string, Message[]>();
    for (const message of result.messages) {
      byConversation.set(message.conversationId, [
        ...(byConversation.get(message.conversationId) ?? []),
        message,
      ]);
    }
    assert.equal(byConversation.get(groups[5]!.id)?.length, 30, 'the small backlog comes whole');
    assert.equal(byConversation.has(quiet.id), false);
    const cut = Object.keys(result.more);
    assert.equal(cut.length, 1, 'one conversation is left for paging');
    for (const [conversationId, messages] of byConversation) {
      // Each conversation's part starts right after the client's seq, in seq order, without gaps.
      assert.deepEqual(
        messages.map((message) => message.seq),
        Array.from({ length: messages.length }, (_, i) => i + 1),
      );
      assert.equal(messages.length === 450 || messages.length === 30, !cut.includes(conversationId));
    }
  });
});
