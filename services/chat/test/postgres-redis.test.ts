import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MemoryBus } from '@parley/bus';
import type { Message } from '@parley/contracts';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { type ChatClient, connect, nextEvent } from './support/clients.ts';
import { bearer, type ChatHarness, logger, startChat, type TestUser } from './support/harness.ts';

const { databaseUrl, redisUrl } = testBackends();

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
  });
} else {
  describe('chat across two processes', {
    skip: skipReason(databaseUrl ? 'REDIS_URL' : 'DATABASE_URL', 'two-process chat test'),
  }, () => {});
}
