import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Subscription } from '@parley/bus';
import { ChatEvents, type Conversation, type ConversationEventData } from '@parley/contracts';
import type { EventEnvelope } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPgliteTestDatabase, openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
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
    const updates: EventEnvelope[] = [];
    let spy: Subscription;

    before(async () => {
      database = await backend.open();
      h = await startParley({ database });
      spy = await h.bus.subscribe({
        group: 'test-spy',
        subjects: [ChatEvents.conversationUpdated],
        handler: async (event) => {
          updates.push(event);
        },
      });
    });

    after(async () => {
      await spy.close();
      await h.close();
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
  });
}
