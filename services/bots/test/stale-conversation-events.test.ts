import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Subscription } from '@parley/bus';
import {
  type Bot,
  BotsEvents,
  ChatEvents,
  type Conversation,
  type ConversationEventData,
  type ReplyCompletedData,
} from '@parley/contracts';
import type { EventEnvelope } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPgliteTestDatabase, openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
import { OpenAiTestServer } from '../src/testing/openai-test-server.ts';
import { type Harness, INTERNAL_TOKEN, startParley, type TestUser, waitFor } from './support/harness.ts';

// chat.conversation.updated may come to bots again long after it was handled: bots crashed after acting
// but before the ack, a chat relay republished it after a lease, and the in-process bus has no dedup.
// What it said then must not undo what has happened since.

const { databaseUrl } = testBackends();
const backends: { name: string; open: () => Promise<TestDatabase> }[] = [
  { name: 'PGlite', open: () => openPgliteTestDatabase() },
];
if (databaseUrl) backends.push({ name: 'PostgreSQL', open: () => openPostgresTestDatabase(databaseUrl) });
else {
  describe('stale conversation events on PostgreSQL', {
    skip: skipReason('DATABASE_URL', 'stale conversation events on PostgreSQL'),
  }, () => {});
}

const service = { id: 'service', role: 'admin' as const, token: INTERNAL_TOKEN };

for (const backend of backends) {
  describe(`stale conversation events (${backend.name})`, () => {
    let database: TestDatabase;
    let h: Harness;
    let peer: OpenAiTestServer;
    let llmBot: Bot;
    const updates: EventEnvelope[] = [];
    const completed: { data: ReplyCompletedData; at: number }[] = [];
    let spy: Subscription;

    before(async () => {
      database = await backend.open();
      peer = await OpenAiTestServer.start();
      h = await startParley({
        database,
        config: { botsFirstTokenTimeoutMs: 2000, botsTotalTimeoutMs: 10_000 },
      });
      const admin = await h.user('admin');
      const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
        name: 'Slow Helper',
        kind: 'llm',
        config: { baseUrl: peer.baseUrl, model: 'test-model', apiKey: 'sk-stale-events-test' },
      });
      assert.equal(created.status, 201);
      llmBot = created.body;
      spy = await h.bus.subscribe({
        group: 'test-spy',
        subjects: [ChatEvents.conversationUpdated, BotsEvents.replyCompleted],
        handler: async (event) => {
          if (event.type === BotsEvents.replyCompleted)
            completed.push({ data: event.data as ReplyCompletedData, at: Date.now() });
          else updates.push(event);
        },
      });
    });

    after(async () => {
      await spy.close();
      await h.close();
      await peer.close();
      await database.dispose();
    });

    const get = async (user: TestUser, id: string) =>
      (await h.request<Conversation>(user, 'GET', `/api/v1/conversations/${id}`)).body;
    const patch = (id: string, body: object) =>
      h.request<Conversation>(service, 'PATCH', `/internal/v1/chat/conversations/${id}`, body);
    /** The update event that showed the conversation in this state (the spy sees every one). */
    const eventShowing = async (id: string, status: string, handledBy: string): Promise<EventEnvelope> => {
      let found: EventEnvelope | undefined;
      await waitFor(() => {
        found = updates.find((event) => {
          const { conversation } = event.data as ConversationEventData;
          return (
            conversation.id === id && conversation.status === status && conversation.handledBy === handledBy
          );
        });
        return found !== undefined;
      });
      return found!;
    };
    /** Bots' answer to the give-back it asked of chat for this conversation, as it logged it. */
    const refusedGiveBack = (id: string) =>
      h.logs.find((line) => line.includes(id) && line.includes('"code":"precondition_failed"'));

    /** Handed to people, resolved by them, and given back to the bot by the consumer. */
    async function resolvedAndGivenBack(user: TestUser, botId: string) {
      const conversation = await h.openBotConversation(user, botId);
      assert.equal((await patch(conversation.id, { status: 'pending', handledBy: 'human' })).status, 200);
      assert.equal((await patch(conversation.id, { status: 'resolved' })).status, 200);
      await waitFor(async () => (await get(user, conversation.id)).handledBy === 'bot');
      return {
        conversation,
        handoff: await eventShowing(conversation.id, 'pending', 'human'),
        resolved: await eventShowing(conversation.id, 'resolved', 'human'),
      };
    }

    it('a redelivered "resolved" event does not take a reopened conversation from the agent', async () => {
      const user = await h.user();
      const { conversation, resolved } = await resolvedAndGivenBack(user, DEFAULT_BOT_ID);
      // An agent reopens it and works it.
      const reopened = await patch(conversation.id, { status: 'open', handledBy: 'human' });
      assert.equal(reopened.status, 200);

      await h.bus.publish(resolved);
      await waitFor(
        async () =>
          refusedGiveBack(conversation.id) !== undefined ||
          (await get(user, conversation.id)).handledBy === 'bot',
      );
      const after = await get(user, conversation.id);
      assert.deepEqual(
        { status: after.status, handledBy: after.handledBy },
        { status: 'open', handledBy: 'human' },
        'the stale event must not undo the agent taking the conversation',
      );
      assert.equal(after.updatedAt, reopened.body.updatedAt, 'nothing was written');

      // Resolved again, for real this time: the bot gets it back as before.
      assert.equal((await patch(conversation.id, { status: 'resolved' })).status, 200);
      await waitFor(async () => (await get(user, conversation.id)).handledBy === 'bot');
    });

    it('a redelivered handoff does not stop what the bot answers after getting the conversation back', async () => {
      const user = await h.user();
      const { conversation, handoff, resolved } = await resolvedAndGivenBack(user, llmBot.id);
      const tokens = Array.from({ length: 30 }, (_, i) => `w${i} `);
      peer.respond({ kind: 'reply', tokens, tokenDelayMs: 50 });
      const asked = peer.requests.length;
      const first = await h.send(user, conversation.id, 'Tell me everything about refunds.');
      await waitFor(() => peer.requests.length > asked); // streaming (tracked) now
      const second = await h.send(user, conversation.id, 'And about exchanges?'); // queued behind it

      await h.bus.publish(handoff);
      await h.bus.publish(resolved);
      const outcomeOf = (message: { id: string }) =>
        completed.find((entry) => entry.data.triggerMessageId === message.id);
      await waitFor(() => outcomeOf(first) !== undefined && outcomeOf(second) !== undefined, 15_000);
      assert.equal(outcomeOf(first)?.data.outcome, 'answered', 'the streaming reply was not stopped');
      assert.equal(outcomeOf(second)?.data.outcome, 'answered', 'the queued reply was not dropped');
      assert.equal((await h.replyTo(user, first)).body, tokens.join(''));
      assert.equal((await h.replyTo(user, second)).body, tokens.join(''));
      // The stale events were handled while the first reply was still streaming.
      const refusal = refusedGiveBack(conversation.id);
      assert.ok(refusal, 'bots handled the stale "resolved" event');
      assert.ok((JSON.parse(refusal) as { time: number }).time < outcomeOf(first)!.at);
      assert.equal((await get(user, conversation.id)).handledBy, 'bot');
    });
  });
}
