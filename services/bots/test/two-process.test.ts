import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NatsBus } from '@parley/bus';
import { ChatEvents, type Conversation, type Message, replyClientMessageId } from '@parley/contracts';
import { createEvent, createLogger, type EventEnvelope } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openDatabase } from '@parley/store';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { connect } from 'nats';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
import { NOTICES } from '../src/replies/notices.ts';
import { type Harness, sleep, startParley, type TestUser } from './support/harness.ts';
import { TestAuthenticator } from './support/test-auth.ts';

const { databaseUrl, redisUrl, natsUrl } = testBackends();
const missing = !databaseUrl ? 'DATABASE_URL' : !redisUrl ? 'REDIS_URL' : !natsUrl ? 'NATS_URL' : undefined;
const logger = createLogger({ level: 'silent' });

describe(
  'two bots processes over PostgreSQL, Redis and NATS JetStream',
  missing ? { skip: skipReason(missing, 'the two-process exactly-one-reply test') } : {},
  () => {
    const suffix = randomBytes(4).toString('hex');
    const stream = `PTEST_BOTS_${suffix.toUpperCase()}`;
    const subjectPrefix = `ptestbots${suffix}`;
    const keyPrefix = `tb${suffix}:`;
    let shared: TestDatabase;
    let first: Harness;
    let second: Harness;
    const buses: NatsBus[] = [];

    before(async () => {
      shared = await openPostgresTestDatabase(databaseUrl!);
      const auth = new TestAuthenticator();
      for (let i = 0; i < 2; i++)
        buses.push(await NatsBus.connect({ url: natsUrl!, stream, subjectPrefix, logger }));
      // Process one serves chat and bots; process two runs bots alone and reaches chat over HTTP. Each has
      // its own database pool, NATS connection and Redis connections, as separate processes would.
      first = await startParley({ database: shared, bus: buses[0], redisUrl, keyPrefix, auth });
      const ownPool = await openDatabase({ databaseUrl: shared.url });
      second = await startParley({
        database: { database: ownPool, url: shared.url, dispose: () => ownPool.close() },
        bus: buses[1],
        redisUrl,
        keyPrefix,
        auth,
        withChat: false,
        chatUrl: first.url,
      });
    });

    after(async () => {
      await second?.close();
      await second?.database.dispose();
      await first?.close();
      for (const bus of buses) await bus.close();
      await shared?.dispose();
      const nc = await connect({ servers: natsUrl });
      await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
      await nc.close();
    });

    it('gives every user message exactly one reply, shared between the processes', async () => {
      const conversations: { user: TestUser; conversation: Conversation }[] = [];
      for (let i = 0; i < 6; i++) {
        const user = await first.user();
        conversations.push({ user, conversation: await first.openBotConversation(user, DEFAULT_BOT_ID) });
      }
      const questions = [
        'How do I start a new conversation?',
        'What commands are there?',
        'How do I block someone?',
        '/help',
      ];
      const sent: { user: TestUser; message: Message }[] = [];
      await Promise.all(
        conversations.map(async ({ user, conversation }) => {
          for (const question of questions)
            sent.push({ user, message: await first.send(user, conversation.id, question) });
        }),
      );
      for (const { user, message } of sent) await first.replyTo(user, message, 20_000);

      // Redelivery and a republished copy of some events change nothing.
      const spy: EventEnvelope[] = [];
      for (const { message } of sent.slice(0, 4)) {
        const data = {
          message,
          conversation: {
            id: message.conversationId,
            type: 'bot',
            botId: DEFAULT_BOT_ID,
            status: 'open',
            handledBy: 'bot',
            members: [],
          },
        };
        spy.push(createEvent(ChatEvents.messageCreated, data));
      }
      for (const event of spy) await buses[1]!.publish(event);
      await sleep(1500);

      for (const { user, conversation } of conversations) {
        const messages = await first.messages(user, conversation.id);
        const userMessages = messages.filter((m) => m.senderType === 'user');
        assert.equal(userMessages.length, questions.length);
        for (const question of userMessages) {
          const replies = messages.filter((m) => m.clientMessageId === replyClientMessageId(question.id));
          assert.equal(replies.length, 1, `one reply to "${question.body}"`);
        }
        assert.equal(messages.length, questions.length * 2);
        assert.deepEqual(
          messages.map((m) => m.seq),
          messages.map((_, i) => i + 1),
        );
      }
      const answered = [first.bots.runtime.completed(), second.bots.runtime.completed()];
      assert.equal(answered[0]! + answered[1]!, sent.length);
      assert.ok(answered[0]! > 0 && answered[1]! > 0, `both processes answered (${answered.join(' + ')})`);
    });

    it('stops answering as a bot switched off on the other process at once, not when its memory lapses', async () => {
      const admin = await first.user('admin');
      const created = await second.request<{ id: string }>(admin, 'POST', '/api/v1/bots', {
        name: `Switched off ${suffix}`,
        kind: 'faq',
      });
      assert.equal(created.status, 201);
      const botId = created.body.id;
      const users = await Promise.all(Array.from({ length: 6 }, () => first.user()));
      const conversations = await Promise.all(users.map((user) => first.openBotConversation(user, botId)));
      // Until both processes have answered as this bot within the last moment, so both remember it.
      for (let round = 0; ; round++) {
        const before = [first.bots.runtime.completed(), second.bots.runtime.completed()];
        const asked = await Promise.all(
          users.map((user, i) => first.send(user, conversations[i]!.id, `/help ${round}`)),
        );
        await Promise.all(asked.map((message, i) => first.replyTo(users[i]!, message, 20_000)));
        const after = [first.bots.runtime.completed(), second.bots.runtime.completed()];
        if (after[0]! > before[0]! && after[1]! > before[1]!) break;
        assert.ok(round < 10, 'both processes answered within ten rounds');
      }
      const patched = await second.request(admin, 'PATCH', `/api/v1/bots/${botId}`, { active: false });
      assert.equal(patched.status, 200);
      const asked = await Promise.all(
        users.map((user, i) => first.send(user, conversations[i]!.id, 'What commands are there?')),
      );
      const replies = await Promise.all(asked.map((message, i) => first.replyTo(users[i]!, message, 20_000)));
      for (const reply of replies) assert.equal(reply.body, NOTICES.unavailable);
    });
  },
);
