import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metricSample as sample } from '@parley/kernel/testing';
import { queryRows } from '@parley/store';
import { sql } from 'drizzle-orm';
import { databaseBackends } from './support/backends.ts';
import { type ChatClient, connect } from './support/clients.ts';
import { bearer, type ChatHarness, startChat, type TestUser, waitFor } from './support/harness.ts';

const backends = databaseBackends('chat metrics');

for (const backend of backends) {
  describe(`chat metrics on /metrics (${backend.name})`, () => {
    let chat: ChatHarness;
    let alice: TestUser;
    let socket: ChatClient;
    let conversationId: string;

    const scrape = async () => {
      const response = await chat.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      return response.body;
    };

    before(async () => {
      chat = await startChat({ listen: true, database: await backend.open(), ownsDatabase: true });
      alice = await chat.user();
      const bob = await chat.user();
      conversationId = (await chat.createGroup(alice, [bob.id])).id;
      socket = await connect(chat.url, alice.token);
    });
    after(async () => {
      socket.close();
      await chat.close();
    });

    it('counts stored messages, group-commit batches and socket events by outcome', async () => {
      for (let i = 0; i < 3; i++) {
        const ack = await socket.emitWithAck('message:send', {
          conversationId,
          body: `hello ${i}`,
          clientMessageId: `metrics-${i}`,
        });
        assert.equal(ack.ok, true);
      }
      // A retry is answered with the original: nothing new is stored.
      assert.equal(
        (
          await socket.emitWithAck('message:send', {
            conversationId,
            body: 'hello 0',
            clientMessageId: 'metrics-0',
          })
        ).ok,
        true,
      );
      const bad = await socket.emitWithAck('message:send', { conversationId, body: 42 } as never);
      assert.equal(bad.ok, false);
      const rest = await chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${conversationId}/messages`,
        headers: bearer(alice),
        payload: { body: 'over REST' },
      });
      assert.equal(rest.statusCode, 201, rest.body);

      const text = await scrape();
      // The group's creation may have stored a system message too; users' messages are what was sent.
      assert.equal(sample(text, 'chat_messages_stored_total', { sender_type: 'user' }), 4);
      assert.equal(sample(text, 'chat_socket_events_total', { event: 'message:send', outcome: 'ok' }), 4);
      assert.equal(
        sample(text, 'chat_socket_events_total', { event: 'message:send', outcome: 'validation_failed' }),
        1,
      );
      const batches = sample(text, 'chat_send_batch_size_count');
      assert.ok(batches !== undefined && batches >= 5, `five sends reached the committer: ${batches}`);
      assert.ok((sample(text, 'chat_send_batch_size_sum') ?? 0) >= 5);
      assert.equal(sample(text, 'chat_send_commit_seconds_count'), batches);
      assert.equal(sample(text, 'chat_sockets_connected'), 1);
    });

    it('shows the outbox backlog and the dead letters of every service in the process', async () => {
      await waitFor(async () => sample(await scrape(), 'outbox_pending_events', { service: 'chat' }) === 0);
      const text = await scrape();
      assert.equal(sample(text, 'outbox_oldest_pending_seconds', { service: 'chat' }), 0);
      assert.notEqual(sample(text, 'outbox_pending_events', { service: 'identity' }), undefined);
      assert.equal(sample(text, 'dead_letters', { service: 'chat', consumer: 'chat.identity' }), undefined);

      // A consumer that gave up on an event leaves a row (subscribeIdempotent's dead-letter sink).
      const db = chat.database.database.db;
      await queryRows(
        db,
        sql`insert into chat.dead_letters (consumer, event_id, type, envelope, error, attempts)
          values ('chat.identity', 'evt_metrics', 'identity.user.registered', '{}'::jsonb, 'boom', 5)`,
      );
      assert.equal(sample(await scrape(), 'dead_letters', { service: 'chat', consumer: 'chat.identity' }), 1);
      await queryRows(db, sql`delete from chat.dead_letters where event_id = 'evt_metrics'`);
      assert.equal(
        sample(await scrape(), 'dead_letters', { service: 'chat', consumer: 'chat.identity' }),
        undefined,
        'a cleared consumer disappears',
      );
    });
  });
}
