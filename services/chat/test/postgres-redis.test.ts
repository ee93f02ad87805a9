import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MemoryBus } from '@parley/bus';
import type { Message } from '@parley/contracts';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { type ChatClient, connect, nextEvent } from './support/clients.ts';
import {
  bearer,
  type ChatHarness,
  INTERNAL_TOKEN,
  logger,
  startChat,
  type TestUser,
} from './support/harness.ts';

const { databaseUrl, redisUrl } = testBackends();

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, 'condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

if (databaseUrl) {
  describe('chat on PostgreSQL', () => {
    let chat: ChatHarness;
    let users: TestUser[];
    const sockets: ChatClient[] = [];

    before(async () => {
      chat = await startChat({
        listen: true,
        database: await openPostgresTestDatabase(databaseUrl, 20),
        ownsDatabase: true,
      });
      users = await Promise.all([chat.user(), chat.user(), chat.user(), chat.user()]);
    });
    after(async () => {
      for (const socket of sockets) socket.close();
      await chat.close();
    });

    it('gives 400 parallel sends from several sockets seq exactly 1..400 (row lock + group commit)', async () => {
      const group = (
        await chat.app.inject({
          method: 'POST',
          url: '/api/v1/conversations',
          headers: bearer(users[0]!),
          payload: { type: 'group', memberIds: users.slice(1).map((u) => u.id) },
        })
      ).json();
      for (const user of users) for (let i = 0; i < 2; i++) sockets.push(await connect(chat.url, user.token));
      const acks = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          sockets[i % sockets.length]!.emitWithAck('message:send', {
            conversationId: group.id,
            body: `pg ${i}`,
            clientMessageId: `pg-${i}`,
          }),
        ),
      );
      assert.ok(acks.every((ack) => ack.ok));
      const seqs = acks.map((ack) => (ack as { message: Message }).message.seq).sort((a, b) => a - b);
      assert.deepEqual(
        seqs,
        Array.from({ length: 400 }, (_, i) => i + 1),
      );
      // Retrying every send returns the originals: still 400 messages.
      const retries = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          // The other tab of the same user: idempotency is per sender.
          sockets[(i % sockets.length) ^ 1]!.emitWithAck('message:send', {
            conversationId: group.id,
            body: `pg ${i}`,
            clientMessageId: `pg-${i}`,
          }),
        ),
      );
      retries.forEach((ack, i) => {
        assert.equal((ack as { message: Message }).message.id, (acks[i] as { message: Message }).message.id);
      });
      const view = await chat.app.inject({
        method: 'GET',
        url: `/api/v1/conversations/${group.id}`,
        headers: bearer(users[0]!),
      });
      assert.equal(view.json().lastSeq, 400);
    });

    it('searches with PostgreSQL full-text search', async () => {
      const group = (
        await chat.app.inject({
          method: 'POST',
          url: '/api/v1/conversations',
          headers: bearer(users[0]!),
          payload: { type: 'group' },
        })
      ).json();
      await chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${group.id}/messages`,
        headers: bearer(users[0]!),
        payload: { body: 'the invoice for march is attached' },
      });
      const found = await chat.app.inject({
        method: 'GET',
        url: '/api/v1/search/messages?q=invoice%20march',
        headers: bearer(users[0]!),
      });
      assert.equal(found.json().items.length, 1);
    });

    it('keeps lastMessage on the newest message when an edit of the last one races a send', async () => {
      const [alice, bob] = users as [TestUser, TestUser];
      const group = (
        await chat.app.inject({
          method: 'POST',
          url: '/api/v1/conversations',
          headers: bearer(alice),
          payload: { type: 'group', memberIds: [bob.id] },
        })
      ).json();
      const send = async (user: TestUser, body: string): Promise<Message> =>
        (
          await chat.app.inject({
            method: 'POST',
            url: `/api/v1/conversations/${group.id}/messages`,
            headers: bearer(user),
            payload: { body },
          })
        ).json();
      let last = await send(alice, 'first');
      // The reply lands at different points of the edit: before, during and after its transaction.
      for (let round = 0; round < 30; round++) {
        const [edited, reply] = await Promise.all([
          chat.app.inject({
            method: 'PATCH',
            url: `/api/v1/conversations/${group.id}/messages/${last.id}`,
            headers: bearer(alice),
            payload: { body: `edited ${round}` },
          }),
          new Promise((resolve) => setTimeout(resolve, round % 3)).then(() => send(bob, `reply ${round}`)),
        ]);
        assert.equal(edited.statusCode, 200, edited.body);
        const conversation = (
          await chat.app.inject({
            method: 'GET',
            url: `/api/v1/conversations/${group.id}`,
            headers: bearer(alice),
          })
        ).json();
        assert.equal(conversation.lastMessage.id, reply.id, `round ${round}: lastMessage is the reply`);
        assert.equal(conversation.lastMessage.seq, conversation.lastSeq);
        last = await send(alice, `next ${round}`);
      }
    });

    describe('changes racing each other', () => {
      const call = async (
        user: TestUser,
        method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
        url: string,
        payload?: object,
      ) => chat.app.inject({ method, url, headers: bearer(user), ...(payload ? { payload } : {}) });
      const newGroup = async (owner: TestUser, members: TestUser[]) =>
        (
          await call(owner, 'POST', '/api/v1/conversations', {
            type: 'group',
            memberIds: members.map((m) => m.id),
          })
        ).json().id as string;
      const post = async (user: TestUser, conversationId: string, body: string): Promise<Message> =>
        (await call(user, 'POST', `/api/v1/conversations/${conversationId}/messages`, { body })).json();

      it('judges an expectation under the row lock: a give-back racing a reopen never undoes it', async () => {
        const [alice] = users as [TestUser];
        const internal = async (id: string, payload: object) =>
          chat.app.inject({
            method: 'PATCH',
            url: `/internal/v1/chat/conversations/${id}`,
            headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
            payload,
          });
        const conversationId = (
          await call(alice, 'POST', '/api/v1/conversations', { type: 'bot', botId: 'bot_faq' })
        ).json().id as string;
        for (let round = 0; round < 40; round++) {
          assert.equal(
            (await internal(conversationId, { status: 'pending', handledBy: 'human' })).statusCode,
            200,
          );
          assert.equal((await internal(conversationId, { status: 'resolved' })).statusCode, 200);
          // Bots giving it back to the bot (an old event's view) while an agent reopens and takes it.
          const [giveBack, reopen] = await Promise.all([
            internal(conversationId, {
              handledBy: 'bot',
              expect: { status: 'resolved', handledBy: 'human' },
            }),
            internal(conversationId, { status: 'open', handledBy: 'human' }),
          ]);
          assert.equal(reopen.statusCode, 200, reopen.body);
          if (giveBack.statusCode === 409) assert.equal(giveBack.json().code, 'precondition_failed');
          else assert.equal(giveBack.statusCode, 200, giveBack.body);
          // Whichever came first, the agent's reopening is what stands.
          const now = (await call(alice, 'GET', `/api/v1/conversations/${conversationId}`)).json();
          assert.deepEqual(
            { status: now.status, handledBy: now.handledBy },
            { status: 'open', handledBy: 'human' },
          );
        }
      });

      it('never edits a message that a racing delete tombstoned', async () => {
        const [alice, bob] = users as [TestUser, TestUser];
        const conversationId = await newGroup(alice, [bob]);
        for (let round = 0; round < 40; round++) {
          const message = await post(alice, conversationId, `m${round}`);
          const url = `/api/v1/conversations/${conversationId}/messages/${message.id}`;
          const [edited, deleted] = await Promise.all([
            call(alice, 'PATCH', url, { body: `edited ${round}` }),
            call(alice, 'DELETE', url),
          ]);
          assert.equal(deleted.statusCode, 204);
          // Either the edit came first (200, then the delete) or it found the tombstone (409).
          assert.ok([200, 409].includes(edited.statusCode), edited.body);
          if (edited.statusCode === 200) assert.equal(edited.json().deletedAt, undefined, edited.body);
        }
        const history = await chat.app.inject({
          method: 'GET',
          url: `/api/v1/conversations/${conversationId}/messages?afterSeq=0&limit=100`,
          headers: bearer(alice),
        });
        for (const message of history.json().items as Message[]) {
          assert.ok(message.deletedAt, `seq ${message.seq} is deleted`);
          assert.equal(message.body, '', `seq ${message.seq}: a tombstone keeps no text`);
        }
      });

      it('answers changes racing the deletion of their conversation with 404, never a 500', async () => {
        const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
        for (let round = 0; round < 30; round++) {
          const conversationId = await newGroup(alice, [bob]);
          const message = await post(alice, conversationId, 'soon gone');
          const url = `/api/v1/conversations/${conversationId}/messages/${message.id}`;
          const racing = await Promise.all([
            round % 3 === 0
              ? call(alice, 'PATCH', url, { body: 'edited' })
              : round % 3 === 1
                ? call(alice, 'DELETE', url)
                : call(alice, 'POST', `/api/v1/conversations/${conversationId}/members`, {
                    userId: carol.id,
                  }),
            call(alice, 'DELETE', `/api/v1/conversations/${conversationId}`),
          ]);
          for (const answer of racing) assert.ok(answer.statusCode < 500, answer.body);
          assert.equal(racing[1]!.statusCode, 204);
        }
      });

      it('says when edits and deletes since the token were more than one sync carries', async () => {
        const [alice, bob] = users as [TestUser, TestUser];
        const conversationId = await newGroup(alice, [bob]);
        const sender = await connect(chat.url, alice.token);
        sockets.push(sender);
        const sent: Message[] = [];
        for (let i = 0; i < 501; i += 200) {
          const acks = await Promise.all(
            Array.from({ length: Math.min(200, 501 - i) }, (_, j) =>
              sender.emitWithAck('message:send', {
                conversationId,
                body: `m${i + j}`,
                clientMessageId: `changes-${i + j}`,
              }),
            ),
          );
          for (const ack of acks) sent.push((ack as { message: Message }).message);
        }
        const reader = await connect(chat.url, bob.token);
        sockets.push(reader);
        type Synced = { changes: Message[]; moreChanges: boolean; syncToken: string };
        const sync = async (since?: string) =>
          (await reader.emitWithAck('sync', {
            conversations: { [conversationId]: 501 },
            ...(since ? { since } : {}),
          })) as unknown as Synced;
        const start = await sync();
        for (let i = 0; i < sent.length; i += 50) {
          await Promise.all(
            sent.slice(i, i + 50).map((message) =>
              call(alice, 'PATCH', `/api/v1/conversations/${conversationId}/messages/${message.id}`, {
                body: `edited ${message.seq}`,
              }),
            ),
          );
        }
        const first = await sync(start.syncToken);
        assert.equal(first.changes.length, 500);
        assert.equal(first.moreChanges, true, 'the client must sync again');
        const second = await sync(first.syncToken);
        assert.equal(second.changes.length, 1);
        assert.equal(second.moreChanges, false);
        const seen = new Set([...first.changes, ...second.changes].map((message) => message.id));
        assert.equal(seen.size, 501, 'every edit arrives once over the two syncs');
      });

      it('pushes read receipts in the order they were stored: the mark never goes backwards', async () => {
        const [alice, bob] = users as [TestUser, TestUser];
        const conversationId = await newGroup(alice, [bob]);
        for (let i = 0; i < 400; i++) await post(bob, conversationId, `m${i}`);
        const watcher = await connect(chat.url, bob.token);
        sockets.push(watcher);
        const seen: number[] = [];
        watcher.on('receipt', (event) => {
          if (event.userId === alice.id && event.kind === 'read') seen.push(event.seq);
        });
        for (let round = 0; round < 100; round++) {
          await Promise.all(
            [1, 2, 3, 4].map((step) =>
              call(alice, 'POST', `/api/v1/conversations/${conversationId}/read`, { seq: round * 4 + step }),
            ),
          );
        }
        await waitUntil(() => seen.at(-1) === 400);
        for (let i = 1; i < seen.length; i++)
          assert.ok(seen[i]! > seen[i - 1]!, `${seen[i - 1]} then ${seen[i]}`);
      });
    });
  });
} else {
  describe('chat on PostgreSQL', {
    skip: skipReason('DATABASE_URL', 'chat on PostgreSQL (seq under concurrency)'),
  }, () => {});
}

if (databaseUrl && redisUrl) {
  describe('chat across two processes (PostgreSQL + Redis adapter)', () => {
    let database: TestDatabase;
    let first: ChatHarness;
    let second: ChatHarness;

    before(async () => {
      database = await openPostgresTestDatabase(databaseUrl, 10);
      // Each "process" has its own bus and app; only PostgreSQL and Redis are shared, as in a cluster
      // (identity keeps its signing keys in PostgreSQL and its deny list in Redis, so both verify alike).
      const cachePrefix = `t${randomBytes(4).toString('hex')}:`;
      first = await startChat({
        listen: true,
        database,
        ownsDatabase: false,
        redisUrl,
        cachePrefix,
        bus: new MemoryBus({ logger }),
      });
      second = await startChat({
        listen: true,
        database,
        ownsDatabase: false,
        redisUrl,
        cachePrefix,
        bus: new MemoryBus({ logger }),
      });
    });
    after(async () => {
      await first.close();
      await second.close();
      await database.dispose();
    });

    it('ends offline after each quick connect and disconnect (presence kept in Redis)', async () => {
      const [watcher, flicker] = await Promise.all([first.user(), first.user()]);
      await first.createGroup(watcher, [flicker.id]);
      const presence = async () =>
        (
          await first.app.inject({
            method: 'GET',
            url: `/api/v1/users/${flicker.id}`,
            headers: bearer(watcher),
          })
        ).json().presence.status as string;
      for (let round = 0; round < 30; round++) {
        const socket = await connect(first.url, flicker.token);
        socket.close();
        await new Promise((resolve) => setTimeout(resolve, 150));
        assert.equal(await presence(), 'offline', `round ${round}: no socket, so offline`);
      }
    });

    it('stores a client key used in two conversations at once on two processes once, refusing the other', async () => {
      const alice = await first.user();
      const bob = await first.user();
      const group = async () => (await first.createGroup(alice, [bob.id])).id;
      for (let i = 0; i < 5; i++) {
        const [one, two] = [await group(), await group()];
        const send = (harness: ChatHarness, conversationId: string) =>
          harness.app.inject({
            method: 'POST',
            url: `/api/v1/conversations/${conversationId}/messages`,
            headers: bearer(alice),
            payload: { body: `to ${conversationId}`, clientMessageId: `both-${i}` },
          });
        // Side by side: the later statement meets the earlier one's key only when it inserts.
        const answers = await Promise.all([send(first, one), send(second, two)]);
        assert.deepEqual(
          answers.map((answer) => answer.statusCode).sort(),
          [201, 409],
          answers.map((answer) => answer.body).join('\n'),
        );
      }
    });

    it('delivers a message sent on one process to a member connected to the other', async () => {
      const alice = await first.user();
      const bob = await first.user();
      const created = await first.app.inject({
        method: 'POST',
        url: '/api/v1/conversations',
        headers: bearer(alice),
        payload: { type: 'direct', memberIds: [bob.id] },
      });
      const conversationId = created.json().id;
      const bobSocket = await connect(second.url, bob.token);
      const aliceSocket = await connect(first.url, alice.token);
      try {
        const received = nextEvent(bobSocket, 'message:new');
        const ack = await aliceSocket.emitWithAck('message:send', {
          conversationId,
          body: 'across nodes',
          clientMessageId: 'x-1',
        });
        assert.equal(ack.ok, true);
        const message = await received;
        assert.equal(message.body, 'across nodes');
        assert.equal(message.id, (ack as { message: Message }).message.id);
      } finally {
        bobSocket.close();
        aliceSocket.close();
      }
    });

    it('disconnects a session on every process when one process handles the revocation', async () => {
      const carol = await first.user();
      const socket = await connect(second.url, carol.token);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      // Identity's event reaches one process (its consumer group); the disconnect travels the adapter.
      await first.accounts.logout(carol);
      assert.equal(await gone, 'io server disconnect');
    });

    it('ends the sockets of a changed role on every process, keeping those opened with the new role', async () => {
      const kim = await first.user('agent');
      const oldRole = await Promise.all([connect(first.url, kim.token), connect(second.url, kim.token)]);
      const gone = oldRole.map(
        (socket) =>
          new Promise<string>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('the old role’s socket stayed up')), 5000);
            socket.once('disconnect', (reason) => {
              clearTimeout(timer);
              resolve(reason);
            });
          }),
      );
      await first.accounts.setRole(kim, 'user');
      assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
      const newRole = await connect(second.url, (await first.accounts.login({ ...kim, role: 'user' })).token);
      try {
        // A later profile snapshot (the same role) leaves it be.
        await first.accounts.setRole(kim, 'user');
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.ok(newRole.connected);
      } finally {
        newRole.close();
      }
    });
  });
} else {
  describe('chat across two processes', {
    skip: skipReason(databaseUrl ? 'REDIS_URL' : 'DATABASE_URL', 'two-process chat test'),
  }, () => {});
}
