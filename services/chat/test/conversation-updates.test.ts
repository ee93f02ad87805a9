import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatEvents, type Conversation, type ConversationSnapshot } from '@parley/contracts';
import type { EventEnvelope } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { databaseBackends } from './support/backends.ts';
import { type ChatClient, collect, connect, nextEvent, sleep } from './support/clients.ts';
import {
  bearer,
  type ChatHarness,
  INTERNAL_TOKEN,
  startChat,
  type TestUser,
  waitFor,
} from './support/harness.ts';

const backends = databaseBackends('conversation updates');

// What members hear when a conversation changes: conversation:updated on their sockets and
// chat.conversation.updated on the bus, whether the change came through the internal API or from a send.
// Both backends, because the send's part of it is one SQL statement.
for (const backend of backends)
  describe(`conversation updates (${backend.name})`, () => {
    let chat: ChatHarness;
    let alice: TestUser;
    let agent: TestUser;
    const open: ChatClient[] = [];
    const updates: EventEnvelope<{ conversation: ConversationSnapshot }>[] = [];

    const client = async (user: TestUser) => {
      const socket = await connect(chat.url, user.token);
      open.push(socket);
      return socket;
    };
    const send = async (user: TestUser, conversationId: string, body: string) => {
      const response = await chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${conversationId}/messages`,
        headers: bearer(user),
        payload: { body },
      });
      assert.equal(response.statusCode, 201, response.body);
      return response.json();
    };
    const setStatus = async (conversationId: string, status: string) => {
      const response = await chat.app.inject({
        method: 'PATCH',
        url: `/internal/v1/chat/conversations/${conversationId}`,
        headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
        payload: { status },
      });
      assert.equal(response.statusCode, 200, response.body);
    };
    const view = async (user: TestUser, conversationId: string): Promise<Conversation> =>
      (
        await chat.app.inject({
          method: 'GET',
          url: `/api/v1/conversations/${conversationId}`,
          headers: bearer(user),
        })
      ).json();
    const updatesOf = (conversationId: string) =>
      updates.filter((event) => event.data.conversation.id === conversationId);
    /** The conversation as the REST API shows it, less what only a member's own view has. */
    const snapshotOf = ({ lastMessage: _last, unreadCount: _unread, ...snapshot }: Conversation) => snapshot;

    before(async () => {
      chat = await startChat({ listen: true, database: await backend.open(), ownsDatabase: true });
      [alice, agent] = await Promise.all([chat.user(), chat.user('agent')]);
      await chat.bus.subscribe({
        group: 'test-conversation-updates',
        subjects: [ChatEvents.conversationUpdated],
        handler: async (event) => {
          updates.push(event as EventEnvelope<{ conversation: ConversationSnapshot }>);
        },
      });
    });
    after(async () => {
      for (const socket of open) socket.close();
      await chat.close();
    });

    it('tells every member of a status change, each with their own unread count', async () => {
      const support = await chat.createSupport(alice);
      await send(agent, support.id, 'hello, how can I help?');
      const [aliceSocket, agentSocket] = await Promise.all([client(alice), client(agent)]);
      const heard = [
        nextEvent(aliceSocket, 'conversation:updated'),
        nextEvent(agentSocket, 'conversation:updated'),
      ] as const;
      await setStatus(support.id, 'resolved');
      const [toAlice, toAgent] = await Promise.all(heard);
      assert.equal(toAlice.status, 'resolved');
      assert.equal(toAgent.status, 'resolved');
      assert.equal(toAlice.unreadCount, 1, "the agent's message is unread for alice");
      assert.equal(toAgent.unreadCount, 0, 'nobody else wrote');
      await waitFor(() =>
        updatesOf(support.id).some((event) => event.data.conversation.status === 'resolved'),
      );
    });

    it("announces a resolved conversation reopened by its user's message, after the message, as REST shows it", async () => {
      const support = await chat.createSupport(alice);
      await send(agent, support.id, 'anything else?');
      await setStatus(support.id, 'resolved');
      await waitFor(() =>
        updatesOf(support.id).some((event) => event.data.conversation.status === 'resolved'),
      );
      const [aliceSocket, agentSocket] = await Promise.all([client(alice), client(agent)]);
      const aliceHeard: string[] = [];
      aliceSocket.on('message:new', () => aliceHeard.push('message:new'));
      aliceSocket.on('conversation:updated', () => aliceHeard.push('conversation:updated'));
      const heard = [
        nextEvent(aliceSocket, 'conversation:updated'),
        nextEvent(agentSocket, 'conversation:updated'),
      ] as const;

      const reopening = await send(alice, support.id, 'one more thing');
      const [toAlice, toAgent] = await Promise.all(heard);
      assert.deepEqual(aliceHeard, ['message:new', 'conversation:updated']);
      assert.equal(toAlice.status, 'open');
      assert.equal(toAgent.status, 'open');
      assert.equal(toAgent.lastMessage?.id, reopening.id);
      assert.equal(toAgent.unreadCount, 1);

      await waitFor(() => updatesOf(support.id).some((event) => event.data.conversation.status === 'open'));
      const event = updatesOf(support.id).find((e) => e.data.conversation.status === 'open')!;
      // Built in the send's statement: it must be what toSnapshot makes of the stored row.
      assert.deepEqual(event.data.conversation, snapshotOf(await view(alice, support.id)));
      assert.deepEqual(event.actor, { type: 'user', id: alice.id });
      assert.equal(event.occurredAt, reopening.createdAt);
      assert.match(event.id, /^evt_/);
    });

    it('announces a staff member who joins by writing, to the others and to the agent', async () => {
      const support = await chat.createSupport(alice);
      const aliceSocket = await client(alice);
      const agentSocket = await client(agent);
      const toAlice = nextEvent(aliceSocket, 'conversation:updated');
      const toAgent = nextEvent(agentSocket, 'conversation:updated');
      await send(agent, support.id, 'an agent here');
      const joined = (conversation: Conversation | ConversationSnapshot) =>
        conversation.members.some((member) => member.userId === agent.id && member.role === 'agent');
      assert.ok(joined(await toAlice));
      assert.ok(joined(await toAgent));
      await waitFor(() => updatesOf(support.id).some((event) => joined(event.data.conversation)));
      const event = updatesOf(support.id).find((e) => joined(e.data.conversation))!;
      assert.deepEqual(event.data.conversation, snapshotOf(await view(agent, support.id)));
      assert.deepEqual(event.actor, { type: 'user', id: agent.id });
    });

    it('shows, in a reopening send, the members committed while it waited for the lock', {
      skip:
        backend.name === 'PGlite' ? 'PGlite has one connection: nothing commits while a send waits' : false,
    }, async () => {
      const support = await chat.createSupport(alice);
      await send(agent, support.id, 'anything else?');
      await setStatus(support.id, 'resolved');
      const assignee = await chat.user('agent');
      let sending: Promise<unknown> | undefined;
      // Another process assigns an agent: it holds the row lock while the user's message comes in.
      await chat.database.database.db.transaction(async (tx) => {
        await tx.execute(sql`select id from chat.conversations where id = ${support.id} for update`);
        await tx.execute(
          sql`insert into chat.members (conversation_id, user_id, role) values (${support.id}, ${assignee.id}, 'agent')`,
        );
        await tx.execute(
          sql`update chat.conversations set assignee_id = ${assignee.id} where id = ${support.id}`,
        );
        sending = send(alice, support.id, 'it broke again');
        await sleep(300);
      });
      await sending;
      await waitFor(() => updatesOf(support.id).some((event) => event.data.conversation.status === 'open'));
      const reopened = updatesOf(support.id).find((e) => e.data.conversation.status === 'open')!;
      assert.equal(reopened.data.conversation.assigneeId, assignee.id);
      assert.ok(
        reopened.data.conversation.members.some((member) => member.userId === assignee.id),
        JSON.stringify(reopened.data.conversation.members),
      );
      assert.deepEqual(reopened.data.conversation, snapshotOf(await view(alice, support.id)));
    });

    it('says nothing of an ordinary message: the conversation did not change beyond it', async () => {
      const support = await chat.createSupport(alice);
      await send(agent, support.id, 'joining');
      await waitFor(() => updatesOf(support.id).length === 1);
      const aliceSocket = await client(alice);
      const aliceUpdates = collect(aliceSocket, 'conversation:updated');
      await send(alice, support.id, 'thanks');
      await send(agent, support.id, 'you are welcome');
      await nextEvent(aliceSocket, 'message:new');
      await sleep(200);
      assert.deepEqual(aliceUpdates, []);
      assert.equal(updatesOf(support.id).length, 1);
    });

    it('says nothing of a change that changes nothing: a retried assignment, closing twice', async () => {
      const support = await chat.createSupport(alice);
      const aliceSocket = await client(alice);
      const aliceUpdates = collect(aliceSocket, 'conversation:updated');
      const url = `/internal/v1/chat/conversations/${support.id}`;
      const patch = (payload: object) =>
        chat.app.inject({
          method: 'PATCH',
          url,
          headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
          payload,
        });
      assert.equal((await patch({ assigneeId: agent.id, status: 'open' })).statusCode, 200);
      const retried = await patch({ assigneeId: agent.id, status: 'open' });
      assert.equal(retried.statusCode, 200);
      assert.equal(retried.json().assigneeId, agent.id);
      await setStatus(support.id, 'closed');
      const closed = await view(alice, support.id);
      const ended = await chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${support.id}/end`,
        headers: bearer(alice),
      });
      assert.equal(ended.statusCode, 200, ended.body);
      assert.equal(ended.json().status, 'closed');
      await setStatus(support.id, 'closed');
      await waitFor(() => updatesOf(support.id).length >= 2);
      await sleep(200);
      assert.deepEqual(
        updatesOf(support.id).map((event) => event.data.conversation.status),
        ['open', 'closed'],
      );
      assert.deepEqual(
        aliceUpdates.map((update) => update.status),
        ['open', 'closed'],
      );
      assert.equal((await view(alice, support.id)).updatedAt, closed.updatedAt, 'nothing was written');
    });
  });
