import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MessageEventData } from '@parley/contracts';
import { createEvent, type EventEnvelope, newId } from '@parley/kernel';
import { toLastMessage } from '../src/domain/mappers.ts';
import { type PreparedSend, toBatchItem } from '../src/domain/send-plan.ts';
import { SendRepository } from '../src/repositories/send-repository.ts';
import {
  bearer,
  type ChatHarness,
  INTERNAL_TOKEN,
  startChat,
  type TestUser,
  waitFor,
} from './support/harness.ts';

describe('send batches (one statement per batch)', () => {
  let chat: ChatHarness;
  let alice: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  let agent: TestUser;
  const events: EventEnvelope<MessageEventData>[] = [];

  const create = async (user: TestUser, payload: object) =>
    (
      await chat.app.inject({ method: 'POST', url: '/api/v1/conversations', headers: bearer(user), payload })
    ).json();
  const send = (user: TestUser, conversationId: string, body: string) =>
    chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${conversationId}/messages`,
      headers: bearer(user),
      payload: { body },
    });
  const setStatus = (conversationId: string, status: string) =>
    chat.app.inject({
      method: 'PATCH',
      url: `/internal/v1/chat/conversations/${conversationId}`,
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
      payload: { status },
    });
  const prepared = (
    user: TestUser,
    conversationId: string,
    clientMessageId: string | null,
  ): PreparedSend => ({
    id: newId('msg'),
    conversationId,
    senderId: user.id,
    origin: {
      kind: 'member',
      principal: {
        userId: user.id,
        role: user.role,
        sessionId: user.sessionId,
        credentialId: 'test',
        kind: 'access_token',
        expiresAt: null,
      },
    },
    type: 'text',
    body: `from ${user.id}`,
    attachments: [],
    clientMessageId,
    actor: { type: 'user', id: user.id },
  });

  before(async () => {
    chat = await startChat();
    [alice, bob, eve, agent] = await Promise.all([chat.user(), chat.user(), chat.user(), chat.user('agent')]);
    await chat.bus.subscribe({
      group: 'test-chat-events',
      subjects: ['chat.message.created'],
      handler: async (event) => {
        events.push(event as EventEnvelope<MessageEventData>);
      },
    });
  });
  after(() => chat.close());

  it('publishes each message with its seq, sender type and the conversation as it is after the batch', async () => {
    const bot = await create(alice, { type: 'bot', botId: 'bot_faq' });
    const sent = (await send(alice, bot.id, 'hello bot')).json();
    assert.equal(sent.seq, 1);
    await waitFor(() => events.some((event) => event.data.message.id === sent.id));
    const event = events.find((e) => e.data.message.id === sent.id)!;
    assert.equal(event.data.message.seq, 1);
    assert.equal(event.data.message.senderType, 'user');
    assert.equal(event.data.message.body, 'hello bot');
    assert.deepEqual(event.data.conversation, {
      id: bot.id,
      type: 'bot',
      botId: 'bot_faq',
      status: 'open',
      handledBy: 'bot',
    });
    assert.deepEqual(event.actor, { type: 'user', id: alice.id });
    // The envelope is built in the statement: it must be what kernel's createEvent makes, with the
    // message exactly as the sender got it back.
    assert.deepEqual(event, {
      id: event.id,
      type: 'chat.message.created',
      version: 1,
      occurredAt: sent.createdAt,
      actor: { type: 'user', id: alice.id },
      correlationId: null,
      data: { message: sent, conversation: event.data.conversation },
    });
    assert.match(event.id, /^evt_/);
    // ...and stays so when createEvent changes: the same fields with the same defaults.
    const made = createEvent('chat.message.created', {}, { actor: event.actor });
    assert.deepEqual({ ...event, id: made.id, occurredAt: made.occurredAt, data: {} }, made);
  });

  it('stores, returns and publishes bodies with quotes, backslashes and escapes exactly, in history too', async () => {
    const group = await create(alice, { type: 'group', memberIds: [bob.id] });
    const body = `it's ''quoted'' \\ back\\slash \\' "double" \\u0041 $1 \n😀 end`;
    // Sent together, so one statement returns their envelopes side by side, line by line.
    const lines = [`${body}\r\nsecond line\n`, '\n\u2028 line separator \t tab\n\n'];
    const [sent, ...others] = (
      await Promise.all([body, ...lines].map((text) => send(alice, group.id, text)))
    ).map((response) => response.json());
    assert.equal(sent.body, body);
    const history = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${group.id}/messages`,
      headers: bearer(bob),
    });
    assert.deepEqual(
      history
        .json()
        .items.map((message: { body: string }) => message.body)
        .sort(),
      [body, ...lines].sort(),
    );
    for (const message of [sent, ...others]) {
      await waitFor(() => events.some((event) => event.data.message.id === message.id));
      assert.deepEqual(events.find((event) => event.data.message.id === message.id)?.data.message, message);
    }
  });

  it("keeps the conversation's lastMessage preview to 200 UTF-16 units, as edits do", async () => {
    const group = await create(alice, { type: 'group', memberIds: [bob.id] });
    const body = `${'😀'.repeat(150)} tail`;
    const sent = (await send(alice, group.id, body)).json();
    const view = (
      await chat.app.inject({ method: 'GET', url: `/api/v1/conversations/${group.id}`, headers: bearer(bob) })
    ).json();
    assert.deepEqual(view.lastMessage, {
      id: sent.id,
      seq: sent.seq,
      senderId: alice.id,
      type: 'text',
      body: body.slice(0, 200),
      createdAt: sent.createdAt,
      deleted: false,
    });
    // Built in the statement, in the shape of the mapper that edits use.
    const mapped = toLastMessage({
      ...sent,
      attachments: [],
      clientMessageId: null,
      createdAt: new Date(sent.createdAt),
      editedAt: null,
      deletedAt: null,
      revision: null,
    });
    assert.deepEqual(view.lastMessage, mapped);
  });

  it('cuts the preview before an emoji rather than through it, in sends and in edits', async () => {
    const group = await create(alice, { type: 'group', memberIds: [bob.id] });
    // 1 + 2 x 120 units: unit 200 is the first half of an emoji.
    const body = `a${'😀'.repeat(120)}`;
    const response = await send(alice, group.id, body);
    assert.equal(response.statusCode, 201, response.body);
    const sent = response.json();
    assert.equal(sent.body, body);
    const lastMessage = async () =>
      (
        await chat.app.inject({
          method: 'GET',
          url: `/api/v1/conversations/${group.id}`,
          headers: bearer(bob),
        })
      ).json().lastMessage;
    assert.equal((await lastMessage()).body, body.slice(0, 199));

    const edited = `${body}!`;
    const edit = await chat.app.inject({
      method: 'PATCH',
      url: `/api/v1/conversations/${group.id}/messages/${sent.id}`,
      headers: bearer(alice),
      payload: { body: edited },
    });
    assert.equal(edit.statusCode, 200, edit.body);
    assert.equal((await lastMessage()).body, body.slice(0, 199));
  });

  it('reopens a resolved conversation when its user writes, and the event says so; staff join as agents', async () => {
    const support = await create(alice, { type: 'support' });
    assert.equal((await setStatus(support.id, 'open')).statusCode, 200);
    assert.equal((await setStatus(support.id, 'resolved')).statusCode, 200);
    const fromAgent = (await send(agent, support.id, 'anything else?')).json();
    assert.equal(fromAgent.senderType, 'agent');
    const again = (await send(alice, support.id, 'one more thing')).json();
    await waitFor(() => events.some((event) => event.data.message.id === again.id));
    assert.equal(
      events.find((e) => e.data.message.id === fromAgent.id)?.data.conversation.status,
      'resolved',
    );
    assert.equal(events.find((e) => e.data.message.id === again.id)?.data.conversation.status, 'open');
    const view = await chat.app.inject({
      method: 'GET',
      url: `/api/v1/conversations/${support.id}`,
      headers: bearer(alice),
    });
    assert.equal(view.json().status, 'open');
    assert.ok(
      view
        .json()
        .members.some((m: { userId: string; role: string }) => m.userId === agent.id && m.role === 'agent'),
    );
  });

  it("names as the reopening's actor the write that reopened, not the batch's first write", async () => {
    const support = await create(alice, { type: 'support' });
    assert.equal((await send(agent, support.id, 'an agent here')).statusCode, 201);
    assert.equal((await setStatus(support.id, 'resolved')).statusCode, 200);
    const items = [
      prepared(agent, support.id, null),
      prepared(alice, support.id, null),
      prepared(agent, support.id, null),
    ];
    // lockedFirst: a batch that changes its conversation runs with its locks already taken.
    const { verdicts, events: written } = await new SendRepository().sendBatch(
      chat.database.database.db,
      items.map(toBatchItem),
      new Date(),
      undefined,
      true,
    );
    assert.deepEqual(
      verdicts.map((v) => v.verdict),
      ['write', 'write', 'write'],
    );
    const updates = written
      .map((event) => event.envelope)
      .filter((envelope) => envelope.type === 'chat.conversation.updated')
      .map((envelope) => ('json' in envelope ? JSON.parse(envelope.json) : envelope));
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0].actor, { type: 'user', id: alice.id });
    assert.equal(updates[0].data.conversation.status, 'open');
  });

  it('decides every send of one batch on its own: writes, repeats, replays, outsiders and closed ones', async () => {
    const group = await create(alice, { type: 'group', memberIds: [bob.id] });
    const closed = await create(alice, { type: 'group', memberIds: [bob.id] });
    assert.equal((await setStatus(closed.id, 'closed')).statusCode, 200);
    const stored = (await send(bob, group.id, 'stored before')).json();
    const repository = new SendRepository();
    const createdAt = new Date();
    const items = [
      prepared(alice, group.id, 'k-1'),
      prepared(bob, group.id, null),
      prepared(alice, group.id, 'k-1'),
      prepared(eve, group.id, 'k-eve'),
      prepared(alice, closed.id, 'k-closed'),
      prepared(alice, `cnv_${'0'.repeat(26)}`, 'k-missing'),
      prepared(alice, group.id, 'k-2'),
    ];
    const { verdicts } = await repository.sendBatch(
      chat.database.database.db,
      items.map(toBatchItem),
      createdAt,
    );
    assert.deepEqual(
      verdicts.map((v) => [v.verdict, v.seq]),
      [
        ['write', stored.seq + 1],
        ['write', stored.seq + 2],
        ['repeat', null],
        ['hidden', null],
        ['closed', null],
        ['hidden', null],
        ['write', stored.seq + 3],
      ],
    );
    const replay = await repository.sendBatch(chat.database.database.db, [toBatchItem(items[0]!)], createdAt);
    assert.equal(replay.verdicts[0]?.verdict, 'replay');
    assert.equal(replay.originals.get(0)?.id, items[0]!.id);
    assert.equal(replay.originals.get(0)?.seq, stored.seq + 1);
  });
});
