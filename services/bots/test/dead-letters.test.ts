import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatEvents, type MessageEventData } from '@parley/contracts';
import { createEvent, newId } from '@parley/kernel';
import { queryRows } from '@parley/store';
import { sql } from 'drizzle-orm';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
import { MESSAGES_GROUP } from '../src/events/message-consumer.ts';
import { type Harness, INTERNAL_TOKEN, startParley, waitFor } from './support/harness.ts';

describe('bots dead letters', () => {
  let h: Harness;
  before(async () => {
    h = await startParley();
  });
  after(() => h.close());

  it('replays a user message the consumer gave up on: the bot answers it then', async () => {
    const user = await h.user();
    const conversation = await h.openBotConversation(user, DEFAULT_BOT_ID);
    // A message chat stored whose event the consumer failed on every retry (bots was down, say).
    const data: MessageEventData = {
      message: {
        id: newId('msg'),
        conversationId: conversation.id,
        seq: 50,
        senderId: user.id,
        senderType: 'user',
        type: 'text',
        body: '/help',
        attachments: [],
        createdAt: new Date().toISOString(),
      },
      conversation: {
        id: conversation.id,
        type: 'bot',
        status: 'open',
        handledBy: 'bot',
        botId: DEFAULT_BOT_ID,
      },
    } as MessageEventData;
    const event = createEvent(ChatEvents.messageCreated, data);
    const [row] = await queryRows<{ id: number }>(
      h.database.database.db,
      sql`insert into bots.dead_letters (consumer, event_id, type, envelope, error, attempts)
        values (${MESSAGES_GROUP}, ${event.id}, ${event.type}, ${JSON.stringify(event)}::jsonb, 'timeout', 5)
        returning id`,
    );
    const answered = async () =>
      (await h.messages(user, conversation.id)).some((m) => m.senderType === 'bot' && /\/human/.test(m.body));
    assert.equal(await answered(), false);
    const replayed = await h.app.inject({
      method: 'POST',
      url: `/internal/v1/bots/dead-letters/${row?.id}/replay`,
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
    });
    assert.equal(replayed.statusCode, 200, replayed.body);
    await waitFor(answered);
    const listed = await h.app.inject({
      method: 'GET',
      url: '/internal/v1/bots/dead-letters',
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
    });
    assert.deepEqual(listed.json().items, []);
  });
});
