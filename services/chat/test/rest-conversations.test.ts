import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BotsEvents } from '@parley/contracts';
import { createEvent } from '@parley/kernel';
import { bearer, type ChatHarness, INTERNAL_TOKEN, startChat, type TestUser } from './support/harness.ts';

describe('chat REST: conversations', () => {
  let chat: ChatHarness;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let agent: TestUser;

  before(async () => {
    chat = await startChat();
    [alice, bob, carol, agent] = await Promise.all([
      chat.user(),
      chat.user(),
      chat.user(),
      chat.user('agent'),
    ]);
  });
  after(() => chat.close());

  const create = (user: TestUser, payload: object) =>
    chat.app.inject({ method: 'POST', url: '/api/v1/conversations', headers: bearer(user), payload });
  const list = async (user: TestUser): Promise<unknown[]> =>
    (
      await chat.app.inject({
        method: 'GET',
        url: '/api/v1/conversations?limit=100',
        headers: bearer(user),
      })
    ).json().items;

  it('needs a bearer token', async () => {
    const response = await chat.app.inject({ method: 'GET', url: '/api/v1/conversations' });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer');
    assert.equal(response.json().code, 'unauthorized');
  });

  it('opens one direct conversation per pair: 201, then 200 with the same one from either side', async () => {
    const first = await create(alice, { type: 'direct', memberIds: [bob.id] });
    assert.equal(first.statusCode, 201);
    const conversation = first.json();
    assert.match(conversation.id, /^cnv_/);
    assert.equal(conversation.type, 'direct');
    assert.equal(conversation.status, 'open');
    assert.equal(conversation.handledBy, null);
    assert.equal(conversation.lastSeq, 0);
    assert.equal(conversation.unreadCount, 0);
    assert.deepEqual(
      conversation.members.map((m: { userId: string }) => m.userId).sort(),
      [alice.id, bob.id].sort(),
    );
    const again = await create(bob, { type: 'direct', memberIds: [alice.id] });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().id, conversation.id);
  });

  it('refuses direct conversations that are not exactly one other known user', async () => {
    assert.equal((await create(alice, { type: 'direct', memberIds: [] })).statusCode, 400);
    assert.equal((await create(alice, { type: 'direct', memberIds: [bob.id, carol.id] })).statusCode, 400);
    assert.equal((await create(alice, { type: 'direct', memberIds: [alice.id] })).statusCode, 400);
    assert.equal((await create(alice, { type: 'direct', memberIds: ['usr_nobody'] })).statusCode, 404);
  });

  it('keeps blocked users from opening a direct conversation or writing into one', async () => {
    const mallory = await chat.user();
    const open = await create(mallory, { type: 'direct', memberIds: [carol.id] });
    assert.equal(open.statusCode, 201);
    const earlier = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${open.json().id}/messages`,
      headers: bearer(mallory),
      payload: { body: 'hi before the block' },
    });
    const ownGroup = (await create(mallory, { type: 'group', memberIds: [bob.id] })).json();
    await chat.accounts.block(carol, mallory);
    assert.equal((await create(mallory, { type: 'direct', memberIds: [carol.id] })).statusCode, 403);
    const send = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${open.json().id}/messages`,
      headers: bearer(mallory),
      payload: { body: 'hello?' },
    });
    assert.equal(send.statusCode, 403);
    // No way around it: not by editing an old message, not through a group.
    const edit = await chat.app.inject({
      method: 'PATCH',
      url: `/api/v1/conversations/${open.json().id}/messages/${earlier.json().id}`,
      headers: bearer(mallory),
      payload: { body: 'edited after the block' },
    });
    assert.equal(edit.statusCode, 403);
    assert.equal((await create(mallory, { type: 'group', memberIds: [carol.id] })).statusCode, 403);
    const added = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${ownGroup.id}/members`,
      headers: bearer(mallory),
      payload: { userId: carol.id },
    });
    assert.equal(added.statusCode, 403);
    await chat.accounts.unblock(carol, mallory);
    assert.equal((await create(mallory, { type: 'direct', memberIds: [carol.id] })).statusCode, 200);
  });

  it('runs groups: owner, members, size limit, add and remove by the owner only', async () => {
    const created = await create(alice, { type: 'group', title: 'Team', memberIds: [bob.id] });
    assert.equal(created.statusCode, 201);
    const group = created.json();
    assert.equal(group.title, 'Team');
    assert.deepEqual(
      group.members.find((m: { userId: string }) => m.userId === alice.id),
      { userId: alice.id, role: 'owner' },
    );
    const byMember = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${group.id}/members`,
      headers: bearer(bob),
      payload: { userId: carol.id },
    });
    assert.equal(byMember.statusCode, 403);
    const added = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${group.id}/members`,
      headers: bearer(alice),
      payload: { userId: carol.id },
    });
    assert.equal(added.statusCode, 200);
    assert.equal(added.json().members.length, 3);
    const extra = await Promise.all([chat.user(), chat.user(), chat.user()]);
    for (const user of extra.slice(0, 2)) {
      const response = await chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${group.id}/members`,
        headers: bearer(alice),
        payload: { userId: user.id },
      });
      assert.equal(response.statusCode, 200);
    }
    const full = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${group.id}/members`,
      headers: bearer(alice),
      payload: { userId: extra[2]!.id },
    });
    assert.equal(full.statusCode, 409);
    assert.equal(full.json().code, 'group_full');
    const tooBig = await create(alice, {
      type: 'group',
      memberIds: extra.map((u) => u.id).concat(bob.id, carol.id),
    });
    assert.equal(tooBig.statusCode, 400);
    const removed = await chat.app.inject({
      method: 'DELETE',
      url: `/api/v1/conversations/${group.id}/members/${carol.id}`,
      headers: bearer(alice),
    });
    assert.equal(removed.statusCode, 204);
    const gone = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${group.id}`,
      headers: bearer(carol),
    });
    assert.equal(gone.statusCode, 404);
    const renamed = await chat.app.inject({
      method: 'PATCH',
      url: `/api/v1/conversations/${group.id}`,
      headers: bearer(alice),
      payload: { title: 'Renamed' },
    });
    assert.equal(renamed.json().title, 'Renamed');
  });

  it('stores the bot of a bot conversation and needs one', async () => {
    assert.equal((await create(alice, { type: 'bot' })).statusCode, 400);
    const bot = await create(alice, { type: 'bot', botId: 'bot_helper' });
    assert.equal(bot.statusCode, 201);
    assert.equal(bot.json().botId, 'bot_helper');
    assert.equal(bot.json().handledBy, 'bot');
  });

  it('refuses a bot conversation with a bot the bots service deleted or switched off', async () => {
    const announce = (type: string, data: unknown) => chat.bus.publish(createEvent(type, data));
    const facts = (id: string, active: boolean) => ({
      bot: { id, name: id, description: '', kind: 'faq', active, support: false },
    });
    const opened = async (botId: string, expected: number) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const response = await create(alice, { type: 'bot', botId });
        if (response.statusCode === expected) return response;
        assert.ok(Date.now() < deadline, `${botId} never answered ${expected}: ${response.body}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await announce(BotsEvents.botCreated, facts('bot_paused', false));
    assert.equal((await opened('bot_paused', 404)).json().code, 'not_found');
    await announce(BotsEvents.botUpdated, facts('bot_paused', true));
    await opened('bot_paused', 201);
    await announce(BotsEvents.botCreated, facts('bot_gone', true));
    await announce(BotsEvents.botDeleted, { botId: 'bot_gone' });
    const gone = await opened('bot_gone', 404);
    assert.equal(gone.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(gone.json().code, 'not_found');
  });

  it('queues support conversations for humans when no support bot is set, and lets staff in', async () => {
    const created = await create(alice, {
      type: 'support',
      title: 'Help',
      systemMessage: 'Welcome to support.',
    });
    assert.equal(created.statusCode, 201);
    const support = created.json();
    assert.equal(support.status, 'pending');
    assert.equal(support.handledBy, 'human');
    assert.equal(support.lastSeq, 1);
    assert.equal(support.lastMessage.type, 'system');
    // Attributed to its author, not to the platform.
    assert.equal(support.lastMessage.senderId, alice.id);
    const outsider = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${support.id}`,
      headers: bearer(bob),
    });
    assert.equal(outsider.statusCode, 404);
    const staff = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${support.id}`,
      headers: bearer(agent),
    });
    assert.equal(staff.statusCode, 200);
    const reply = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${support.id}/messages`,
      headers: bearer(agent),
      payload: { body: 'How can I help?' },
    });
    assert.equal(reply.statusCode, 201);
    assert.equal(reply.json().senderType, 'agent');
    const mine = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${support.id}/messages`,
      headers: bearer(alice),
      payload: { body: 'My order is late' },
    });
    assert.equal(mine.json().senderType, 'user');
  });

  it('lets only staff open a conversation with other people with a system message', async () => {
    const before = (await list(bob)).length;
    const spoof = await create(alice, {
      type: 'group',
      memberIds: [bob.id],
      systemMessage: 'Your account is locked: sign in at example.net',
    });
    assert.equal(spoof.statusCode, 403, spoof.body);
    assert.equal(spoof.json().code, 'forbidden');
    const direct = await create(alice, { type: 'direct', memberIds: [carol.id], systemMessage: 'hi' });
    assert.equal(direct.statusCode, 403, direct.body);
    assert.equal((await list(bob)).length, before, 'nothing was created for bob');
    // Also where the direct conversation exists already: the request is refused, not answered with it.
    const existing = await create(alice, { type: 'direct', memberIds: [bob.id] });
    assert.ok([200, 201].includes(existing.statusCode), existing.body);
    const again = await create(alice, {
      type: 'direct',
      memberIds: [bob.id],
      systemMessage: 'Your account is locked: sign in at example.net',
    });
    assert.equal(again.statusCode, 403, again.body);
    assert.equal(again.json().code, 'forbidden');
    const announced = await create(agent, {
      type: 'group',
      memberIds: [bob.id],
      systemMessage: 'Maintenance tonight at 22:00',
    });
    assert.equal(announced.statusCode, 201, announced.body);
    assert.equal(announced.json().lastMessage.type, 'system');
    assert.equal(announced.json().lastMessage.senderId, agent.id);
  });

  it('sends support conversations to the bot the bots service says is the support bot', async () => {
    const announce = (type: string, data: unknown, occurredAt: string): Promise<void> =>
      chat.bus.publish({ ...createEvent(type, data), occurredAt });
    const bot = (id: string, support: boolean, active = true) => ({
      bot: { id, name: id, description: '', kind: 'faq', active, support },
    });
    const supportLine = async () => (await create(carol, { type: 'support' })).json();
    const settles = async (expected: string | null) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const conversation = await supportLine();
        if ((conversation.botId ?? null) === expected) return conversation;
        assert.ok(Date.now() < deadline, `support bot never became ${expected}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await announce(BotsEvents.botCreated, bot('bot_front', true), '2026-01-01T10:00:00.000Z');
    const answered = await settles('bot_front');
    assert.equal(answered.handledBy, 'bot');
    assert.equal(answered.status, 'open');
    // A late, older event changes nothing; a newer choice wins while the old one's event is on its way.
    await announce(BotsEvents.botUpdated, bot('bot_front', false), '2026-01-01T09:00:00.000Z');
    await announce(BotsEvents.botUpdated, bot('bot_desk', true), '2026-01-01T11:00:00.000Z');
    await settles('bot_desk');
    await announce(BotsEvents.botUpdated, bot('bot_desk', true, false), '2026-01-01T12:00:00.000Z');
    await settles('bot_front');
    await announce(BotsEvents.botDeleted, { botId: 'bot_front' }, '2026-01-01T13:00:00.000Z');
    const queued = await settles(null);
    assert.equal(queued.handledBy, 'human');
    assert.equal(queued.status, 'pending');
  });

  it('keeps direct and group conversations private from staff', async () => {
    const direct = (await create(alice, { type: 'direct', memberIds: [bob.id] })).json();
    const response = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${direct.id}`,
      headers: bearer(agent),
    });
    assert.equal(response.statusCode, 404);
  });

  it('lists the caller’s conversations by recent activity, filtered and paged by cursor', async () => {
    const dave = await chat.user();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const other = await chat.user();
      ids.push((await create(dave, { type: 'direct', memberIds: [other.id] })).json().id);
    }
    // Activity moves the oldest conversation to the top.
    await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${ids[0]}/messages`,
      headers: bearer(dave),
      payload: { body: 'bump' },
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = await chat.app.inject({
        method: 'GET',
        url: `/api/v1/conversations${query}`,
        headers: bearer(dave),
      });
      assert.equal(page.statusCode, 200);
      const body = page.json();
      assert.ok(body.items.length <= 2);
      seen.push(...body.items.map((item: { id: string }) => item.id));
      cursor = body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, [ids[0], ids[4], ids[3], ids[2], ids[1]]);
    const groups = await chat.app.inject({
      method: 'GET',
      url: '/api/v1/conversations?type=group',
      headers: bearer(dave),
    });
    assert.deepEqual(groups.json().items, []);
    const badCursor = await chat.app.inject({
      method: 'GET',
      url: '/api/v1/conversations?cursor=garbage',
      headers: bearer(dave),
    });
    assert.equal(badCursor.statusCode, 400);
    const badStatus = await chat.app.inject({
      method: 'GET',
      url: '/api/v1/conversations?status=weird',
      headers: bearer(dave),
    });
    assert.equal(badStatus.statusCode, 400);
  });

  it('rejects unknown fields, wrong types and unknown types with 400', async () => {
    for (const payload of [
      { type: 'direct', memberIds: [bob.id], extra: 1 },
      { type: 'channel' },
      { type: 'group', title: { text: 'x' } },
    ]) {
      const response = await create(alice, payload);
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.equal(response.json().code, 'validation_failed');
    }
    // List cursors are opaque but decodable: one naming a time no column holds is still the caller's error.
    for (const at of ['-100000-01-01T00:00:00.000Z', '+200000-01-01T00:00:00.000Z', 'yesterday']) {
      const cursor = Buffer.from(`${at}|cnv_01m8vrxj15k0bh3gedpwgjz8j3`).toString('base64url');
      const response = await chat.app.inject({
        method: 'GET',
        url: `/api/v1/conversations?cursor=${cursor}`,
        headers: bearer(alice),
      });
      assert.equal(response.statusCode, 400, `${at}: ${response.body}`);
    }
  });

  it('ends a conversation: closed, further sends get 409 conversation_closed', async () => {
    const group = (await create(alice, { type: 'group', memberIds: [bob.id] })).json();
    const end = (user: TestUser) =>
      chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${group.id}/end`,
        headers: bearer(user),
      });
    // For good, and for everyone: the owner's call in a group, not any member's.
    const refused = await end(bob);
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().code, 'forbidden');
    // The API reference lists the refusal too (a client generated from it expects every status it gets).
    const document = (await chat.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(document.paths['/api/v1/conversations/{id}/end'].post.responses['403']);
    const ended = await end(alice);
    assert.equal(ended.statusCode, 200);
    assert.equal(ended.json().status, 'closed');
    const send = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${group.id}/messages`,
      headers: bearer(alice),
      payload: { body: 'anyone?' },
    });
    assert.equal(send.statusCode, 409);
    assert.equal(send.json().code, 'conversation_closed');
  });

  it('lets an admin manage a group it is not in (members, title, delete), though not read it', async () => {
    const admin = await chat.user('admin');
    const group = (await create(alice, { type: 'group', memberIds: [bob.id] })).json();
    const as = (user: TestUser, method: 'POST' | 'PATCH' | 'DELETE' | 'GET', url: string, payload?: object) =>
      chat.app.inject({
        method,
        url: `/api/v1/conversations/${group.id}${url}`,
        headers: bearer(user),
        payload,
      });
    assert.equal((await as(admin, 'GET', '')).statusCode, 404);
    assert.equal((await as(admin, 'POST', '/members', { userId: carol.id })).statusCode, 200);
    assert.equal((await as(admin, 'DELETE', `/members/${bob.id}`)).statusCode, 204);
    assert.equal((await as(admin, 'PATCH', '', { title: 'Renamed by an admin' })).statusCode, 200);
    const seen = (await as(alice, 'GET', '')).json();
    assert.deepEqual(
      seen.members.map((m: { userId: string }) => m.userId).sort(),
      [alice.id, carol.id].sort(),
    );
    assert.equal(seen.title, 'Renamed by an admin');
    // An agent is staff, not an admin: still nothing to see here.
    assert.equal((await as(agent, 'POST', '/members', { userId: bob.id })).statusCode, 404);
    assert.equal((await as(admin, 'DELETE', '')).statusCode, 204);
    assert.equal((await as(alice, 'GET', '')).statusCode, 404);
  });

  it('deletes a conversation for its owner only', async () => {
    const group = (await create(alice, { type: 'group', memberIds: [bob.id] })).json();
    const byMember = await chat.app.inject({
      method: 'DELETE',
      url: `/api/v1/conversations/${group.id}`,
      headers: bearer(bob),
    });
    assert.equal(byMember.statusCode, 403);
    const byOwner = await chat.app.inject({
      method: 'DELETE',
      url: `/api/v1/conversations/${group.id}`,
      headers: bearer(alice),
    });
    assert.equal(byOwner.statusCode, 204);
    const gone = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${group.id}`,
      headers: bearer(alice),
    });
    assert.equal(gone.statusCode, 404);
  });

  describe('internal API', () => {
    const internal = (method: 'PATCH' | 'POST', url: string, payload: object, token = INTERNAL_TOKEN) =>
      chat.app.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });

    it('needs the service token', async () => {
      const support = (await create(alice, { type: 'support' })).json();
      const response = await internal(
        'PATCH',
        `/internal/v1/chat/conversations/${support.id}`,
        { status: 'open' },
        'wrong',
      );
      assert.equal(response.statusCode, 401);
      const userToken = await internal(
        'PATCH',
        `/internal/v1/chat/conversations/${support.id}`,
        { status: 'open' },
        alice.token,
      );
      assert.equal(userToken.statusCode, 401);
    });

    it('changes status along the machine, assigns (the assignee joins) and sets handledBy', async () => {
      const support = (await create(alice, { type: 'support' })).json();
      const url = `/internal/v1/chat/conversations/${support.id}`;
      const taken = await internal('PATCH', url, {
        status: 'open',
        assigneeId: agent.id,
        handledBy: 'human',
      });
      assert.equal(taken.statusCode, 200);
      assert.equal(taken.json().status, 'open');
      assert.equal(taken.json().assigneeId, agent.id);
      assert.ok(
        taken
          .json()
          .members.some((m: { userId: string; role: string }) => m.userId === agent.id && m.role === 'agent'),
      );
      assert.equal((await internal('PATCH', url, { status: 'resolved' })).statusCode, 200);
      const invalid = await internal('PATCH', url, { status: 'pending' });
      assert.equal(invalid.statusCode, 409);
      assert.equal(invalid.json().code, 'invalid_transition');
      // The user writing again reopens a resolved conversation.
      await chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${support.id}/messages`,
        headers: bearer(alice),
        payload: { body: 'still broken' },
      });
      const reopened = await chat.app.inject({
        method: 'GET',
        url: `/api/v1/conversations/${support.id}`,
        headers: bearer(alice),
      });
      assert.equal(reopened.json().status, 'open');
      assert.equal((await internal('PATCH', url, { status: 'closed' })).statusCode, 200);
      assert.equal((await internal('PATCH', url, { status: 'open' })).statusCode, 409);
      assert.equal((await internal('PATCH', url, {})).statusCode, 400);
    });

    it('assigns only active staff, and only bot and support conversations, changing nothing when refused', async () => {
      const support = (await create(alice, { type: 'support' })).json();
      const url = `/internal/v1/chat/conversations/${support.id}`;
      const membersOf = async (id: string) =>
        (
          await chat.app.inject({ method: 'GET', url: `/api/v1/conversations/${id}`, headers: bearer(alice) })
        ).json().members;
      const before = await membersOf(support.id);
      // A mistyped id, another user (who would then read alice's support line) and a bot.
      for (const assigneeId of ['usr_nobody', bob.id, 'bot_faq']) {
        const refused = await internal('PATCH', url, { assigneeId, status: 'open' });
        assert.equal(refused.statusCode, 409, assigneeId);
        assert.equal(refused.json().code, 'assignee_not_staff');
      }
      assert.deepEqual(await membersOf(support.id), before);
      assert.equal((await internal('PATCH', url, { assigneeId: agent.id })).statusCode, 200);

      const group = (await create(alice, { type: 'group', memberIds: [bob.id] })).json();
      for (const payload of [{ assigneeId: agent.id }, { handledBy: 'bot' }, { handledBy: 'human' }]) {
        const refused = await internal('PATCH', `/internal/v1/chat/conversations/${group.id}`, payload);
        assert.equal(refused.statusCode, 409, JSON.stringify(payload));
        assert.equal(refused.json().code, 'not_a_support_conversation');
      }
      const unchanged = await chat.app.inject({
        method: 'GET',
        url: `/api/v1/conversations/${group.id}`,
        headers: bearer(alice),
      });
      assert.equal(unchanged.json().handledBy, group.handledBy);
      assert.equal(unchanged.json().assigneeId, undefined);
    });

    it('posts bot messages idempotently', async () => {
      const bot = (await create(alice, { type: 'bot', botId: 'bot_faq' })).json();
      const url = `/internal/v1/chat/conversations/${bot.id}/messages`;
      const payload = {
        senderId: 'bot_faq',
        senderType: 'bot',
        body: 'Hello! Ask me anything.',
        clientMessageId: 'reply-1',
      };
      const first = await internal('POST', url, payload);
      assert.equal(first.statusCode, 201);
      assert.equal(first.json().senderType, 'bot');
      const again = await internal('POST', url, payload);
      assert.equal(again.statusCode, 200);
      assert.equal(again.json().id, first.json().id);
      assert.equal(
        (await internal('POST', '/internal/v1/chat/conversations/cnv_missing/messages', payload)).statusCode,
        404,
      );
    });

    it('takes no bot messages once people handle the conversation, but still answers a replay', async () => {
      const bot = (await create(alice, { type: 'bot', botId: 'bot_faq' })).json();
      const messagesUrl = `/internal/v1/chat/conversations/${bot.id}/messages`;
      const reply = (clientMessageId: string) => ({
        senderId: 'bot_faq',
        senderType: 'bot',
        body: 'An answer',
        clientMessageId,
      });
      const before = await internal('POST', messagesUrl, reply('before-handoff'));
      assert.equal(before.statusCode, 201);
      const url = `/internal/v1/chat/conversations/${bot.id}`;
      assert.equal((await internal('PATCH', url, { status: 'pending', handledBy: 'human' })).statusCode, 200);
      const late = await internal('POST', messagesUrl, reply('after-handoff'));
      assert.equal(late.statusCode, 409);
      assert.equal(late.json().code, 'not_handled_by_bot');
      const replayed = await internal('POST', messagesUrl, reply('before-handoff'));
      assert.equal(replayed.statusCode, 200, 'a retry of a stored reply gets the original');
      assert.equal(replayed.json().id, before.json().id);
      const notice = await internal('POST', messagesUrl, {
        senderId: 'system',
        senderType: 'system',
        body: 'An agent will be with you shortly.',
        clientMessageId: 'system-notice',
      });
      assert.equal(notice.statusCode, 201, 'system notices are not the bot speaking');
      // Given back to the bot, it may answer again.
      assert.equal((await internal('PATCH', url, { status: 'resolved' })).statusCode, 200);
      assert.equal((await internal('PATCH', url, { handledBy: 'bot' })).statusCode, 200);
      assert.equal((await internal('POST', messagesUrl, reply('after-return'))).statusCode, 201);
    });

    it('applies a change only while the conversation is as the caller expects (expect)', async () => {
      const bot = (await create(alice, { type: 'bot', botId: 'bot_faq' })).json();
      const url = `/internal/v1/chat/conversations/${bot.id}`;
      const state = async () => {
        const { status, handledBy, updatedAt } = (
          await chat.app.inject({
            method: 'GET',
            url: `/api/v1/conversations/${bot.id}`,
            headers: bearer(alice),
          })
        ).json();
        return { status, handledBy, updatedAt };
      };
      // What bots sends when an event says the conversation was resolved by people.
      const giveBack = { handledBy: 'bot', expect: { status: 'resolved', handledBy: 'human' } };
      assert.equal((await internal('PATCH', url, { status: 'pending', handledBy: 'human' })).statusCode, 200);
      assert.equal((await internal('PATCH', url, { status: 'resolved' })).statusCode, 200);
      // An agent reopens it before the give-back arrives: it is refused, and nothing is written.
      assert.equal((await internal('PATCH', url, { status: 'open', handledBy: 'human' })).statusCode, 200);
      const reopened = await state();
      const stale = await internal('PATCH', url, giveBack);
      assert.equal(stale.statusCode, 409);
      assert.equal(stale.json().code, 'precondition_failed');
      assert.deepEqual(await state(), reopened);
      // The caller's premise is checked first: this would be an invalid transition as well.
      assert.equal((await internal('PATCH', url, { status: 'resolved' })).statusCode, 200);
      const both = await internal('PATCH', url, { status: 'pending', expect: { handledBy: 'bot' } });
      assert.equal(both.json().code, 'precondition_failed');
      // As expected: applied, once; a retry finds it changed.
      const given = await internal('PATCH', url, giveBack);
      assert.equal(given.statusCode, 200);
      assert.equal(given.json().handledBy, 'bot');
      assert.equal(given.json().status, 'resolved');
      assert.equal((await internal('PATCH', url, giveBack)).json().code, 'precondition_failed');
      // An expectation is no change, names only status and handledBy, and needs the conversation.
      for (const payload of [
        { expect: { status: 'resolved' } },
        { handledBy: 'human', expect: {} },
        { handledBy: 'human', expect: { assigneeId: null } },
        { handledBy: 'human', expect: { status: 'done' } },
      ]) {
        const refused = await internal('PATCH', url, payload);
        assert.equal(refused.statusCode, 400, JSON.stringify(payload));
        assert.equal(refused.json().code, 'validation_failed');
      }
      const missing = await internal('PATCH', '/internal/v1/chat/conversations/cnv_missing', giveBack);
      assert.equal(missing.statusCode, 404);
    });
  });
});

describe('chat REST: opening system message under a small message limit', () => {
  let chat: ChatHarness;
  before(async () => {
    chat = await startChat({ env: { PARLEY_MESSAGE_MAX_BYTES: '64' } });
  });
  after(() => chat.close());

  it('refuses a system message over the limit with 413 before anything is written', async () => {
    const alice = await chat.user();
    const opened = await chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(alice),
      payload: { type: 'support', systemMessage: 'x'.repeat(65) },
    });
    assert.equal(opened.statusCode, 413, opened.body);
    assert.equal(opened.json().code, 'payload_too_large');
    const list = await chat.app.inject({
      method: 'GET',
      url: '/api/v1/conversations',
      headers: bearer(alice),
    });
    assert.deepEqual(list.json().items, []);
  });
});
