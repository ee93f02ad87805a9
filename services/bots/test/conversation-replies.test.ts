import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Subscription } from '@parley/bus';
import {
  type Bot,
  BotsEvents,
  ChatEvents,
  type Conversation,
  draftsKey,
  type Message,
  type MessageDeltaEvent,
  type ReplyCompletedData,
  replyClientMessageId,
  type SyncResult,
} from '@parley/contracts';
import { createEvent, type EventEnvelope } from '@parley/kernel';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
import { QUOTA_NOTICE, usageDay } from '../src/domain/usage-meter.ts';
import { NOTICES } from '../src/replies/notices.ts';
import { RepliesRepository } from '../src/repositories/replies-repository.ts';
import { UsageRepository } from '../src/repositories/usage-repository.ts';
import { OpenAiTestServer } from '../src/testing/openai-test-server.ts';
import {
  type ClientSocket,
  type Harness,
  INTERNAL_TOKEN,
  sleep,
  startParley,
  type TestUser,
  waitFor,
} from './support/harness.ts';
import { assemble, SocketRecorder } from './support/socket-recorder.ts';

const API_KEY = 'sk-conversation-test-key-42';
const TOKENS = ['Our', ' refund', ' window', ' is', ' thirty', ' days', ', no', ' questions', ' asked', '.'];

let h: Harness;
let peer: OpenAiTestServer;
let admin: TestUser;
let llmBot: Bot;
const completed: ReplyCompletedData[] = [];
let observer: Subscription;

before(async () => {
  peer = await OpenAiTestServer.start();
  h = await startParley({
    config: { botsFirstTokenTimeoutMs: 500, botsTotalTimeoutMs: 2000, botsDailyTokenQuota: 1_000_000 },
    tuning: { resilience: { retries: 1, backoffMs: () => 20 } },
  });
  admin = await h.user('admin');
  const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
    name: 'Refund Helper',
    kind: 'llm',
    config: {
      baseUrl: peer.baseUrl,
      model: 'test-model',
      apiKey: API_KEY,
      systemPrompt: 'You are Refund Helper. Keep answers under fifty words.',
      contextMessages: 6,
      temperature: 0.4,
    },
  });
  assert.equal(created.status, 201);
  llmBot = created.body;
  await h.request(admin, 'POST', `/api/v1/bots/${llmBot.id}/knowledge`, {
    title: 'Refund policy',
    content:
      'Customers can ask for a refund within thirty days of purchase. Refunds go back to the original payment method.',
  });
  observer = await h.bus.subscribe({
    group: 'test-observer',
    subjects: [BotsEvents.replyCompleted],
    handler: async (event) => {
      completed.push(event.data as ReplyCompletedData);
    },
  });
});

after(async () => {
  await observer.close();
  await h.close();
  await peer.close();
});

async function conversationWith(
  botId: string,
): Promise<{ user: TestUser; conversation: Conversation; recorder: SocketRecorder; socket: ClientSocket }> {
  const user = await h.user();
  const conversation = await h.openBotConversation(user, botId);
  const socket = await h.socket(user);
  return { user, conversation, recorder: new SocketRecorder(socket), socket };
}

/** Waits until chat shows the conversation in the given state (its changes arrive through events). */
async function untilConversation(
  user: TestUser,
  conversationId: string,
  reached: (conversation: Conversation) => boolean,
): Promise<void> {
  await waitFor(async () =>
    reached((await h.request<Conversation>(user, 'GET', `/api/v1/conversations/${conversationId}`)).body),
  );
}

function text(deltas: readonly MessageDeltaEvent[]): string {
  return assemble('', deltas);
}

describe('a knowledge bot in a bot conversation', () => {
  it('streams deltas before the one persisted reply, whose text is the streamed text', async () => {
    const { user, conversation, recorder } = await conversationWith(DEFAULT_BOT_ID);
    const question = await h.send(user, conversation.id, 'How do I start a new conversation?');
    const draftId = replyClientMessageId(question.id);
    const reply = await recorder.waitForMessage(draftId);
    const deltas = recorder.deltas(draftId);
    assert.ok(deltas.length >= 1, 'deltas were streamed');
    const firstDelta = recorder.events.findIndex(
      (entry) => entry.kind === 'delta' && entry.event.draftId === draftId,
    );
    assert.ok(firstDelta < recorder.positionOf(draftId), 'the first delta came before the message');
    assert.equal(text(deltas), reply.body);
    assert.match(reply.body, /new conversation/i);
    assert.equal(reply.senderType, 'bot');
    assert.equal(reply.senderId, DEFAULT_BOT_ID);
    assert.equal(reply.seq, question.seq + 1);
  });

  it('says it does not know, and offers /human, when nothing matches', async () => {
    const { user, conversation } = await conversationWith(DEFAULT_BOT_ID);
    const question = await h.send(user, conversation.id, 'What is the boiling point of tungsten?');
    const reply = await h.replyTo(user, question);
    assert.match(reply.body, /\/human/);
    await waitFor(() => completed.some((data) => data.triggerMessageId === question.id));
    assert.equal(completed.find((data) => data.triggerMessageId === question.id)?.outcome, 'unknown');
  });

  it('answers support conversations once an admin makes it the support bot, one such bot at a time', async () => {
    const user = await h.user();
    const openSupport = async () =>
      (await h.request<Conversation>(user, 'POST', '/api/v1/conversations', { type: 'support' })).body;
    const unanswered = await openSupport();
    assert.equal(unanswered.handledBy, 'human', 'no support bot chosen: the human queue');
    assert.equal(unanswered.status, 'pending');

    const chosen = await h.request<Bot>(admin, 'PATCH', `/api/v1/bots/${DEFAULT_BOT_ID}`, { support: true });
    assert.equal(chosen.status, 200);
    assert.equal(chosen.body.support, true);
    // Chat learns the choice from the bots service's events.
    let support = unanswered;
    await waitFor(async () => {
      support = await openSupport();
      return support.handledBy === 'bot';
    });
    assert.equal(support.botId, DEFAULT_BOT_ID);
    const question = await h.send(user, support.id, 'How do I block someone?');
    const reply = await h.replyTo(user, question);
    assert.match(reply.body, /block/i);

    const moved = await h.request<Bot>(admin, 'PATCH', `/api/v1/bots/${llmBot.id}`, { support: true });
    assert.equal(moved.body.support, true);
    const previous = await h.request<Bot>(admin, 'GET', `/api/v1/bots/${DEFAULT_BOT_ID}`);
    assert.equal(previous.body.support, false, 'the role moved: one support bot at a time');
    await waitFor(async () => (await openSupport()).botId === llmBot.id);

    await h.request<Bot>(admin, 'PATCH', `/api/v1/bots/${llmBot.id}`, { support: false });
    await waitFor(async () => (await openSupport()).handledBy === 'human');
  });
});

describe('a handoff', () => {
  for (const kind of ['faq', 'llm'] as const) {
    it(`keeps the ${kind} bot quiet about what the user wrote right after /human`, async () => {
      peer.respond({ kind: 'reply', tokens: ['An', ' answer'], firstTokenDelayMs: 50 });
      const user = await h.user();
      const conversation = await h.openBotConversation(user, kind === 'faq' ? DEFAULT_BOT_ID : llmBot.id);
      const handoff = await h.send(user, conversation.id, '/human');
      const question = await h.send(user, conversation.id, 'How do I start a new conversation?');
      await waitFor(() => completed.some((data) => data.triggerMessageId === question.id));
      assert.equal(completed.find((data) => data.triggerMessageId === handoff.id)?.outcome, 'handoff');
      assert.equal(completed.find((data) => data.triggerMessageId === question.id)?.outcome, 'cancelled');
      const messages = await h.messages(user, conversation.id);
      assert.deepEqual(
        messages.filter((message) => message.senderType === 'bot').map((message) => message.body),
        [NOTICES.handoff],
        'only the handoff notice',
      );
      const after = (await h.request<Conversation>(user, 'GET', `/api/v1/conversations/${conversation.id}`))
        .body;
      assert.equal(after.handledBy, 'human');
      assert.equal(after.status, 'pending');
    });
  }
});

describe('an LLM bot', () => {
  it('streams the provider reply; the request carries the system prompt, knowledge, context and key', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS, tokenDelayMs: 15 });
    const { user, conversation, recorder } = await conversationWith(llmBot.id);
    const first = await h.send(user, conversation.id, 'Hi! I bought a kettle last week.');
    const firstReply = await recorder.waitForMessage(replyClientMessageId(first.id));
    const question = await h.send(user, conversation.id, 'Can I still get my money back, a refund?');
    const draftId = replyClientMessageId(question.id);
    const reply = await recorder.waitForMessage(draftId);

    const deltas = recorder.deltas(draftId);
    assert.ok(deltas.length >= 2, `coalesced but several deltas (${deltas.length})`);
    assert.ok(deltas.length < TOKENS.length + 1);
    assert.equal(text(deltas), TOKENS.join(''));
    assert.equal(reply.body, TOKENS.join(''));
    const firstDelta = recorder.events.findIndex(
      (entry) => entry.kind === 'delta' && entry.event.draftId === draftId,
    );
    assert.ok(firstDelta < recorder.positionOf(draftId));

    const request = peer.requests.at(-1)!;
    assert.equal(request.authorization, `Bearer ${API_KEY}`);
    assert.equal(request.body.model, 'test-model');
    assert.equal(request.body.temperature, 0.4);
    assert.equal(request.body.stream, true);
    const messages = request.body.messages!;
    assert.equal(messages[0]?.role, 'system');
    assert.match(messages[0]!.content, /You are Refund Helper/);
    assert.match(messages[0]!.content, /refund within thirty days/, 'the matching knowledge passage');
    assert.deepEqual(
      messages.slice(1).map((m) => [m.role, m.content]),
      [
        ['user', first.body],
        ['assistant', firstReply.body],
        ['user', question.body],
      ],
    );
    await waitFor(() => completed.some((data) => data.triggerMessageId === question.id));
    const event = completed.find((data) => data.triggerMessageId === question.id)!;
    assert.equal(event.outcome, 'answered');
    assert.equal(event.replyMessageId, reply.id);
    assert.equal(event.model, 'test-model');
    assert.ok(event.promptTokens > 0 && event.completionTokens === TOKENS.length);
    assert.ok(!h.logs.join('\n').includes(API_KEY), 'the key is never logged');
  });

  it('reads the context of a question queued behind a /reset only once the reset is done', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS, tokenDelayMs: 30 });
    const { user, conversation, recorder } = await conversationWith(llmBot.id);
    const first = await h.send(user, conversation.id, 'My order number is 7731. Is there a refund window?');
    await waitFor(() => recorder.deltas(replyClientMessageId(first.id)).length > 0);
    // Both wait for the streaming reply: the question's context must not be read before the reset.
    await h.send(user, conversation.id, '/reset');
    const question = await h.send(user, conversation.id, 'What was my order number?');
    await recorder.waitForMessage(replyClientMessageId(question.id));
    const contents = peer.requests
      .at(-1)!
      .body.messages!.slice(1)
      .map((m) => m.content);
    assert.deepEqual(contents, ['What was my order number?']);
  });

  it('posts a provider reply with NUL characters and broken UTF-16 as text chat can store', async () => {
    peer.respond({ kind: 'reply', tokens: ['bad\u0000', 'byte \ud83d', ' end'] });
    const { user, conversation } = await conversationWith(llmBot.id);
    const reply = await h.replyTo(user, await h.send(user, conversation.id, 'Say something odd.'));
    assert.equal(reply.body, 'badbyte \uFFFD end');
  });

  it('forgets the context after /reset', async () => {
    peer.respond({ kind: 'reply', tokens: ['Sure', '.'] });
    const { user, conversation } = await conversationWith(llmBot.id);
    await h.replyTo(user, await h.send(user, conversation.id, 'Remember: my order number is 7731.'));
    const reset = await h.send(user, conversation.id, '/reset');
    assert.equal((await h.replyTo(user, reset)).body, NOTICES.reset);
    await h.replyTo(user, await h.send(user, conversation.id, 'What was my order number?'));
    const contents = peer.requests
      .at(-1)!
      .body.messages!.slice(1)
      .map((m) => m.content);
    assert.deepEqual(contents, ['What was my order number?']);
  });

  it('ends in a notice when the provider keeps failing (500)', async () => {
    const before = peer.requests.length;
    peer.respond({ kind: 'status', status: 500 });
    const { user, conversation } = await conversationWith(llmBot.id);
    const question = await h.send(user, conversation.id, 'Hello?');
    const reply = await h.replyTo(user, question);
    assert.equal(reply.body, NOTICES.failed);
    assert.equal(reply.senderType, 'bot');
    assert.equal(peer.requests.length - before, 2, 'retried once, then gave up');
    await waitFor(() => completed.some((data) => data.triggerMessageId === question.id));
    assert.equal(completed.find((data) => data.triggerMessageId === question.id)?.outcome, 'failed');
  });

  it('ends in a notice, without asking again, when the provider answers with a web page', async () => {
    const before = peer.requests.length;
    peer.respond({ kind: 'page' });
    const { user, conversation } = await conversationWith(llmBot.id);
    const question = await h.send(user, conversation.id, 'Hello?');
    assert.equal((await h.replyTo(user, question)).body, NOTICES.failed);
    assert.equal(peer.requests.length - before, 1, 'not retried');
    await waitFor(() => completed.some((data) => data.triggerMessageId === question.id));
    assert.equal(completed.find((data) => data.triggerMessageId === question.id)?.outcome, 'failed');
  });

  it('ends in a notice when the provider hangs (first-token timeout)', async () => {
    peer.respond({ kind: 'hang' });
    const { user, conversation } = await conversationWith(llmBot.id);
    const started = Date.now();
    const reply = await h.replyTo(user, await h.send(user, conversation.id, 'Anyone there?'));
    assert.equal(reply.body, NOTICES.failed);
    assert.ok(Date.now() - started < 3000);
  });

  it('keeps what was streamed and says it was cut off when the stream stalls', async () => {
    peer.respond({ kind: 'stall', tokens: ['Refunds', ' are'] });
    const { user, conversation } = await conversationWith(llmBot.id);
    const reply = await h.replyTo(user, await h.send(user, conversation.id, 'Refunds?'), 8000);
    assert.equal(reply.body, `Refunds are\n\n${NOTICES.cutOff}`);
  });

  it('lets a client that reconnects mid-stream resume from sync drafts', async () => {
    const tokens = Array.from({ length: 24 }, (_, i) => `w${i} `);
    peer.respond({ kind: 'reply', tokens, tokenDelayMs: 25 });
    const { user, conversation, recorder, socket: first } = await conversationWith(llmBot.id);
    const question = await h.send(user, conversation.id, 'Tell me a long story about refunds.');
    const draftId = replyClientMessageId(question.id);
    await waitFor(() => recorder.deltas(draftId).length > 0);
    const firstSocketSaw = text(recorder.deltas(draftId));
    first.disconnect();
    await sleep(120);
    const socket = await h.socket(user);
    const again = new SocketRecorder(socket);
    const synced = (await socket.emitWithAck('sync', {
      conversations: { [conversation.id]: question.seq },
    })) as { ok: true } & SyncResult;
    assert.equal(synced.ok, true);
    const draft = synced.drafts.find((d) => d.draftId === draftId);
    assert.ok(draft, 'the reply in progress is among the drafts');
    assert.ok(
      draft.text.length > firstSocketSaw.length - 1 && draft.text.length < tokens.join('').length,
      'mid-stream',
    );
    const final = await again.waitForMessage(draftId);
    assert.equal(assemble(draft.text, again.deltas(draftId)), final.body);
    assert.equal(final.body, tokens.join(''));
    await waitFor(async () => (await h.cache.members(draftsKey(conversation.id))).length === 0);
  });

  it('stops streaming, and posts nothing, when the conversation is closed mid-stream', async () => {
    const tokens = Array.from({ length: 40 }, (_, i) => `t${i} `);
    peer.respond({ kind: 'reply', tokens, tokenDelayMs: 50 });
    const { user, conversation, recorder } = await conversationWith(llmBot.id);
    const question = await h.send(user, conversation.id, 'Explain everything about refunds.');
    const draftId = replyClientMessageId(question.id);
    await waitFor(() => recorder.deltas(draftId).length > 0);
    assert.equal((await h.request(user, 'POST', `/api/v1/conversations/${conversation.id}/end`)).status, 200);
    await waitFor(() => completed.some((data) => data.triggerMessageId === question.id));
    assert.equal(completed.find((data) => data.triggerMessageId === question.id)?.outcome, 'cancelled');
    const delivered = recorder.deltas(draftId).length;
    await sleep(300);
    assert.equal(recorder.deltas(draftId).length, delivered, 'no more deltas');
    assert.ok(!(await h.messages(user, conversation.id)).some((m) => m.clientMessageId === draftId));
    assert.deepEqual(await h.cache.members(draftsKey(conversation.id)), []);
  });

  it('stops streaming, and drops what is queued, when people take the conversation mid-stream', async () => {
    const tokens = Array.from({ length: 40 }, (_, i) => `t${i} `);
    peer.respond({ kind: 'reply', tokens, tokenDelayMs: 50 });
    const { user, conversation, recorder } = await conversationWith(llmBot.id);
    const question = await h.send(user, conversation.id, 'Explain everything about refunds.');
    const draftId = replyClientMessageId(question.id);
    await waitFor(() => recorder.deltas(draftId).length > 0);
    const queued = await h.send(user, conversation.id, 'And exchanges?');
    const service = { id: 'service', role: 'admin' as const, token: INTERNAL_TOKEN };
    const taken = await h.request(service, 'PATCH', `/internal/v1/chat/conversations/${conversation.id}`, {
      status: 'pending',
      handledBy: 'human',
    });
    assert.equal(taken.status, 200);
    // Both replies answer messages the handoff event saw, so it stops both.
    const outcome = (id: string) => completed.find((data) => data.triggerMessageId === id)?.outcome;
    await waitFor(() => outcome(question.id) !== undefined && outcome(queued.id) !== undefined);
    assert.equal(outcome(question.id), 'cancelled');
    assert.equal(outcome(queued.id), 'cancelled');
    const replies = (await h.messages(user, conversation.id)).filter((m) => m.senderType === 'bot');
    assert.deepEqual(replies, []);
  });

  it('stops the reply to a question its author deletes, queued or streaming, and answers the others', async () => {
    const tokens = Array.from({ length: 30 }, (_, i) => `w${i} `);
    peer.respond({ kind: 'reply', tokens, tokenDelayMs: 40 });
    const { user, conversation, recorder } = await conversationWith(llmBot.id);
    const first = await h.send(user, conversation.id, 'Tell me all about refunds.');
    await waitFor(() => recorder.deltas(replyClientMessageId(first.id)).length > 0);
    // Asked while the first streams: it waits in the conversation's queue.
    const second = await h.send(user, conversation.id, 'And about exchanges?');
    const third = await h.send(user, conversation.id, 'And gift cards?');
    for (const question of [first, second]) {
      const deleted = await h.request(
        user,
        'DELETE',
        `/api/v1/conversations/${conversation.id}/messages/${question.id}`,
      );
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    }
    const outcome = (id: string) => completed.find((data) => data.triggerMessageId === id)?.outcome;
    await waitFor(() => [first, second, third].every((question) => outcome(question.id) !== undefined));
    assert.equal(outcome(first.id), 'cancelled', 'stopped mid-stream');
    assert.equal(outcome(second.id), 'cancelled', 'never started');
    assert.equal(outcome(third.id), 'answered', 'the question still standing is answered');
    const replies = (await h.messages(user, conversation.id)).filter((m) => m.senderType === 'bot');
    assert.deepEqual(
      replies.map((m) => m.clientMessageId),
      [replyClientMessageId(third.id)],
    );
  });

  it('answers politely, without calling the provider, once the daily quota is spent', async () => {
    const { user, conversation } = await conversationWith(llmBot.id);
    await new UsageRepository(h.database.database.db).add({
      day: usageDay(),
      userId: user.id,
      botId: llmBot.id,
      model: 'test-model',
      promptTokens: 900_000,
      completionTokens: 100_000,
      costUsd: 0,
    });
    const before = peer.requests.length;
    const reply = await h.replyTo(user, await h.send(user, conversation.id, 'One more question?'));
    assert.match(reply.body, /allowance/);
    assert.equal(peer.requests.length, before);
  });
});

describe('the daily quota under parallel questions', () => {
  const QUOTA = 1_000_000;
  // A process of its own, with timeouts that a busy machine does not trip when many replies start at once.
  let q: Harness;
  let quotaBot: Bot;
  const outcomes = new Map<string, ReplyCompletedData>();
  let watcher: Subscription;

  before(async () => {
    q = await startParley({ config: { botsDailyTokenQuota: QUOTA } });
    const owner = await q.user('admin');
    quotaBot = (
      await q.request<Bot>(owner, 'POST', '/api/v1/bots', {
        name: 'Quota Helper',
        kind: 'llm',
        config: {
          baseUrl: peer.baseUrl,
          model: 'quota-model',
          apiKey: API_KEY,
          systemPrompt: 'Be brief.',
          maxTokens: 40,
          contextMessages: 1,
        },
      })
    ).body;
    watcher = await q.bus.subscribe({
      group: 'test-quota-observer',
      subjects: [BotsEvents.replyCompleted],
      handler: async (event) => {
        const data = event.data as ReplyCompletedData;
        outcomes.set(data.triggerMessageId, data);
      },
    });
  });

  after(async () => {
    await watcher.close();
    await q.close();
  });

  /** Records `tokens` of today's usage for the user, as earlier replies would have. */
  async function spend(user: TestUser, tokens: number): Promise<void> {
    await new UsageRepository(q.database.database.db).add({
      day: usageDay(),
      userId: user.id,
      botId: quotaBot.id,
      model: 'earlier-model',
      promptTokens: tokens,
      completionTokens: 0,
      costUsd: 0,
    });
  }

  async function tokensToday(user: TestUser): Promise<number> {
    const rows = await new UsageRepository(q.database.database.db).forUser(user.id);
    return rows
      .filter((row) => row.day === usageDay())
      .reduce((sum, row) => sum + row.promptTokens + row.completionTokens, 0);
  }

  const fortyWords = Array.from({ length: 40 }, (_, index) => ` w${index}`);

  it('answers questions asked at once in several conversations only while the quota lasts', async () => {
    const user = await q.user();
    const conversations = await Promise.all(
      Array.from({ length: 8 }, () => q.openBotConversation(user, quotaBot.id)),
    );
    const left = 200;
    await spend(user, QUOTA - left);
    // Slow to start, so that every question is asked before any reply is counted.
    peer.respond({ kind: 'reply', tokens: fortyWords, firstTokenDelayMs: 500 });
    const questions = await Promise.all(
      conversations.map((conversation) => q.send(user, conversation.id, 'Tell me something.')),
    );
    const replies = await Promise.all(questions.map((question) => q.replyTo(user, question)));
    await waitFor(() => questions.every((question) => outcomes.has(question.id)));
    const results = questions.map((question) => outcomes.get(question.id)!);
    const answered = results.filter((result) => result.outcome === 'answered');
    assert.ok(answered.length >= 1, 'some were answered');
    // A question is admitted only while something is left, with its worth set aside: at most one
    // reply's usage beyond what was left.
    const largest = Math.max(...answered.map((result) => result.promptTokens + result.completionTokens));
    const spent = (await tokensToday(user)) - (QUOTA - left);
    assert.ok(spent <= left + largest, `spent ${spent} of ${left} left (one reply: ${largest})`);
    const refused = replies.filter((_, index) => results[index]?.outcome === 'quota');
    assert.equal(answered.length + refused.length, questions.length);
    assert.ok(refused.length >= 1, 'the rest got the quota notice');
    for (const reply of refused) assert.equal(reply.body, QUOTA_NOTICE);
  });

  it('gives back what a question set aside when its reply is claimed already', async () => {
    const user = await q.user();
    const conversation = await q.openBotConversation(user, quotaBot.id);
    await spend(user, QUOTA - 100);
    peer.respond({ kind: 'reply', tokens: fortyWords });
    const seen: EventEnvelope[] = [];
    const spy = await q.bus.subscribe({
      group: 'test-quota-spy',
      subjects: [ChatEvents.messageCreated],
      handler: async (event) => {
        seen.push(event);
      },
    });
    const first = await q.send(user, conversation.id, 'Tell me something.');
    assert.notEqual((await q.replyTo(user, first)).body, QUOTA_NOTICE);
    await waitFor(() => seen.some((event) => (event.data as { message: Message }).message.id === first.id));
    await spy.close();
    // Redelivered copies find the reply claimed: whatever they set aside must not count.
    const original = seen.find((event) => (event.data as { message: Message }).message.id === first.id)!;
    await q.bus.publish(original);
    await q.bus.publish(createEvent(original.type, original.data));
    await sleep(300);
    const second = await q.send(user, conversation.id, 'And one more thing?');
    assert.notEqual((await q.replyTo(user, second)).body, QUOTA_NOTICE);
  });
});

describe('commands and handoff', () => {
  it('/help lists the commands, /human among them, and the custom ones', async () => {
    await h.request(admin, 'POST', `/api/v1/bots/${DEFAULT_BOT_ID}/commands`, {
      name: 'hours',
      description: 'Support hours',
      reply: '{{bot.name}} here: support answers 9-17 UTC. You asked about "{{args}}".',
    });
    const { user, conversation } = await conversationWith(DEFAULT_BOT_ID);
    const help = await h.replyTo(user, await h.send(user, conversation.id, '/help'));
    for (const command of ['/help', '/reset', '/human', '/hours'])
      assert.ok(help.body.includes(command), command);
    const hours = await h.replyTo(user, await h.send(user, conversation.id, '/hours weekends'));
    assert.equal(hours.body, 'Parley Assistant here: support answers 9-17 UTC. You asked about "weekends".');
    const unknown = await h.replyTo(user, await h.send(user, conversation.id, '/dance'));
    assert.equal(unknown.body, NOTICES.unknownCommand('dance'));
  });

  it('/human hands off; the bot stays quiet until the conversation is resolved, then answers again', async () => {
    const { user, conversation } = await conversationWith(DEFAULT_BOT_ID);
    const handoff = await h.replyTo(user, await h.send(user, conversation.id, '/human'));
    assert.equal(handoff.body, NOTICES.handoff);
    // The notice comes first (chat takes no bot messages once people handle it), the handoff right after.
    await untilConversation(user, conversation.id, (c) => c.handledBy === 'human');
    const { body: pending } = await h.request<Conversation>(
      user,
      'GET',
      `/api/v1/conversations/${conversation.id}`,
    );
    assert.equal(pending.status, 'pending');
    assert.equal(pending.handledBy, 'human');

    const ignored = await h.send(user, conversation.id, 'How do I block someone?');
    await sleep(400);
    assert.ok(
      !(await h.messages(user, conversation.id)).some(
        (m) => m.clientMessageId === replyClientMessageId(ignored.id),
      ),
    );

    const service = { id: 'service', role: 'admin' as const, token: INTERNAL_TOKEN };
    const resolved = await h.request(service, 'PATCH', `/internal/v1/chat/conversations/${conversation.id}`, {
      status: 'resolved',
    });
    assert.equal(resolved.status, 200);
    await untilConversation(user, conversation.id, (c) => c.handledBy === 'bot');
    const answered = await h.replyTo(user, await h.send(user, conversation.id, 'How do I block someone?'));
    assert.match(answered.body, /block/i);
  });

  it('hands off when the user plainly asks for a person', async () => {
    const { user, conversation } = await conversationWith(DEFAULT_BOT_ID);
    const reply = await h.replyTo(
      user,
      await h.send(user, conversation.id, 'can I talk to a real person please'),
    );
    assert.equal(reply.body, NOTICES.handoff);
    await untilConversation(user, conversation.id, (c) => c.handledBy === 'human');
  });

  it('answers a question about doing something with people instead of handing off', async () => {
    const { user, conversation } = await conversationWith(DEFAULT_BOT_ID);
    const reply = await h.replyTo(user, await h.send(user, conversation.id, 'How do I chat with people?'));
    assert.notEqual(reply.body, NOTICES.handoff);
    const { body: after } = await h.request<Conversation>(
      user,
      'GET',
      `/api/v1/conversations/${conversation.id}`,
    );
    assert.equal(after.status, 'open');
    assert.equal(after.handledBy, 'bot');
  });

  it('still hands off, as its notice says, once the bot is switched off', async () => {
    const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
      name: 'Soon Retired',
      kind: 'faq',
      config: {},
    });
    assert.equal(created.status, 201);
    const { user, conversation } = await conversationWith(created.body.id);
    const switchedOff = await h.request(admin, 'PATCH', `/api/v1/bots/${created.body.id}`, { active: false });
    assert.equal(switchedOff.status, 200);
    const unavailable = await h.replyTo(user, await h.send(user, conversation.id, 'hello?'));
    assert.equal(unavailable.body, NOTICES.unavailable);

    const handoff = await h.replyTo(user, await h.send(user, conversation.id, '/human'));
    assert.equal(handoff.body, NOTICES.handoff);
    await untilConversation(user, conversation.id, (c) => c.status === 'pending' && c.handledBy === 'human');
  });

  it('hands off a plain request for a person once the bot is switched off', async () => {
    const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
      name: 'Also Retired',
      kind: 'faq',
      config: {},
    });
    assert.equal(created.status, 201);
    const { user, conversation } = await conversationWith(created.body.id);
    await h.request(admin, 'PATCH', `/api/v1/bots/${created.body.id}`, { active: false });
    const handoff = await h.replyTo(
      user,
      await h.send(user, conversation.id, 'can I talk to a real person please'),
    );
    assert.equal(handoff.body, NOTICES.handoff);
    await untilConversation(user, conversation.id, (c) => c.handledBy === 'human');
  });
});

describe('exactly one reply', () => {
  /**
   * A question to `botId` in a new conversation, once answered, with the `chat.message.created` event it
   * went out as: what a redelivery or a republished copy repeats.
   */
  async function answeredQuestion(botId: string, body: string) {
    const { user, conversation } = await conversationWith(botId);
    const seen: EventEnvelope[] = [];
    const spy = await h.bus.subscribe({
      group: `test-spy-${botId}`,
      subjects: [ChatEvents.messageCreated],
      handler: async (event) => {
        seen.push(event);
      },
    });
    const question = await h.send(user, conversation.id, body);
    await h.replyTo(user, question);
    const isQuestion = (event: EventEnvelope) =>
      (event.data as { message: Message }).message.id === question.id;
    await waitFor(() => seen.some(isQuestion));
    await spy.close();
    return { user, conversation, question, original: seen.find(isQuestion)! };
  }

  it('survives redelivery and a republished copy of the event', async () => {
    const { user, conversation, question, original } = await answeredQuestion(
      DEFAULT_BOT_ID,
      'How do I edit a message?',
    );
    await h.bus.publish(original);
    await h.bus.publish(createEvent(original.type, original.data));
    await sleep(400);
    const replies = (await h.messages(user, conversation.id)).filter(
      (m) => m.clientMessageId === replyClientMessageId(question.id),
    );
    assert.equal(replies.length, 1);
    assert.equal((await h.messages(user, conversation.id)).length, 2);
  });

  it('stops any provider call a redelivery asked for ahead of its claim, and posts nothing', async () => {
    peer.respond({ kind: 'reply', tokens: ['Within', ' thirty days.'] });
    const { user, conversation, original } = await answeredQuestion(
      llmBot.id,
      'How long do I have for a refund?',
    );
    // Once the reply has ended here, a copy's reads (and call) go ahead of its claim.
    await waitFor(() => h.bots.runtime.inFlight() === 0);
    // The copy's call would never end by itself: only losing the claim can stop it.
    peer.respond({ kind: 'hang' });
    const asked = peer.requests.length;
    await h.bus.publish(createEvent(original.type, original.data));
    // Well inside the first-token timeout (500 ms), which would otherwise be what ends it. The claim may
    // also be lost before the call has left: then the provider hears nothing at all.
    await sleep(300);
    for (const request of peer.requests.slice(asked)) assert.equal(request.abandoned, true);
    const messages = await h.messages(user, conversation.id);
    assert.deepEqual(
      messages.map((m) => m.senderType),
      ['user', 'bot'],
    );
  });

  it('a reply whose process died is taken over once its lease lapses, still as one message', async () => {
    const { user, conversation, orphan, replies } = await orphanedQuestion(
      'How do I delete a message?',
      DEFAULT_BOT_ID,
      -1000,
    );
    await h.bots.runtime.sweep();
    const reply = await h.replyTo(user, orphan);
    assert.match(reply.body, /delete/i);
    await h.bots.runtime.sweep();
    await sleep(200);
    const all = (await h.messages(user, conversation.id)).filter(
      (m) => m.clientMessageId === replyClientMessageId(orphan.id),
    );
    assert.equal(all.length, 1);
    assert.equal((await replies.find(orphan.id))?.state, 'done');
  });
});

/** Chat's internal API, as other services call it. */
const service = { id: 'service', role: 'admin' as const, token: INTERNAL_TOKEN };

/** A question whose reply a run claimed and then died holding, its lease far from lapsing unless told. */
async function orphanedQuestion(text: string, botId = DEFAULT_BOT_ID, leaseMs = 180_000) {
  const { user, conversation } = await conversationWith(botId);
  // Pending: the consumer records the question but claims no reply; the test claims it.
  const pending = await h.request(service, 'PATCH', `/internal/v1/chat/conversations/${conversation.id}`, {
    status: 'pending',
  });
  assert.equal(pending.status, 200);
  await untilConversation(user, conversation.id, (c) => c.status === 'pending');
  const orphan = await h.send(user, conversation.id, text);
  await sleep(200);
  const replies = new RepliesRepository(h.database.database.db);
  const claim = {
    triggerMessageId: orphan.id,
    conversationId: conversation.id,
    triggerSeq: orphan.seq,
    botId,
    userId: user.id,
  };
  assert.equal(await replies.claim(claim, leaseMs), true);
  const replyMessages = async () =>
    (await h.messages(user, conversation.id)).filter(
      (m) => m.clientMessageId === replyClientMessageId(orphan.id),
    );
  return { user, conversation, orphan, replies, replyMessages };
}

/** What a run that died posted after its provider call: chat stored it, bots never recorded it. */
async function postAsDeadRun(conversationId: string, orphanId: string, botId: string, body: string) {
  const posted = await h.request<Message>(
    service,
    'POST',
    `/internal/v1/chat/conversations/${conversationId}/messages`,
    { senderId: botId, senderType: 'bot', body, clientMessageId: replyClientMessageId(orphanId) },
  );
  assert.equal(posted.status, 201, JSON.stringify(posted.body));
  return posted.body;
}

describe('a restart of the only process on its database', () => {
  it('answers at once, as one message, a reply its previous run left with a lease, even before it listens', async () => {
    const { user, orphan, replies, replyMessages } = await orphanedQuestion('How do I edit a message?');
    // The faq bot's answer is ready long before the restarted process listens.
    const restarted = await startParley({ database: h.database, soleProcess: true, listenDelayMs: 500 });
    try {
      const reply = await h.replyTo(user, orphan, 5000);
      assert.match(reply.body, /edit/i);
      await waitFor(async () => (await replies.find(orphan.id))?.state === 'done');
      assert.equal((await replyMessages()).length, 1);
    } finally {
      await restarted.close();
    }
  });

  it('does not count against the quota what the calls of the run that died reserved', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS });
    const { user, orphan } = await orphanedQuestion('Can I get a refund?', llmBot.id);
    // The dead run's call reserved the user's whole day.
    const reserved = await new UsageRepository(h.database.database.db).reserve({
      id: `dead-${orphan.id}`,
      userId: user.id,
      day: usageDay(),
      tokens: 1000,
      quota: 1000,
      lifetimeMs: 180_000,
    });
    assert.equal(reserved, true);
    const restarted = await startParley({
      database: h.database,
      soleProcess: true,
      config: { botsDailyTokenQuota: 1000 },
    });
    try {
      const reply = await h.replyTo(user, orphan, 5000);
      assert.equal(reply.body, TOKENS.join(''));
    } finally {
      await restarted.close();
    }
  });

  it('keeps the one message a run posted before it died, its outcome unrecorded', async () => {
    const { conversation, orphan, replies, replyMessages } =
      await orphanedQuestion('How do I leave a group?');
    const posted = await postAsDeadRun(
      conversation.id,
      orphan.id,
      DEFAULT_BOT_ID,
      'What the run that died posted.',
    );
    const restarted = await startParley({ database: h.database, soleProcess: true });
    try {
      await waitFor(async () => (await replies.find(orphan.id))?.state === 'done', 5000);
      const row = await replies.find(orphan.id);
      assert.equal(row?.replyMessageId, posted.id);
      assert.deepEqual(
        (await replyMessages()).map((m) => m.body),
        ['What the run that died posted.'],
      );
    } finally {
      await restarted.close();
    }
  });
});

describe('a restart after an llm reply was posted but not recorded', () => {
  it('records the posted reply, as answered, without asking the provider again', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS });
    const { user, conversation, orphan, replies } = await orphanedQuestion(
      'Can I get my money back?',
      llmBot.id,
    );
    const posted = await postAsDeadRun(
      conversation.id,
      orphan.id,
      llmBot.id,
      'The answer the run that died was billed for.',
    );
    const asked = peer.requests.length;
    const restarted = await startParley({ database: h.database, soleProcess: true });
    try {
      await waitFor(async () => (await replies.find(orphan.id))?.state === 'done', 5000);
      const row = await replies.find(orphan.id);
      assert.equal(row?.replyMessageId, posted.id);
      assert.equal(row?.outcome, 'answered');
      assert.equal(peer.requests.length - asked, 0, 'the provider was asked once, by the run that died');
      const bodies = (await h.messages(user, conversation.id))
        .filter((m) => m.seq > orphan.seq)
        .map((m) => m.body);
      assert.deepEqual(bodies, ['The answer the run that died was billed for.']);
    } finally {
      await restarted.close();
    }
  });
});

describe('a takeover that cannot ask chat whether its reply was posted', () => {
  it('answers again rather than failing the reply, and logs it', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS });
    const { user, orphan, replies } = await orphanedQuestion(
      'Is a refund possible after a month?',
      llmBot.id,
    );
    // Chat as the restarted bots sees it: posting works, the lookup answers 503 however often it is asked.
    const proxy = createServer((request, response) => {
      if (request.method === 'GET' && request.url?.includes('/messages/posted')) {
        response.writeHead(503).end();
        return;
      }
      const forwarded = httpRequest(
        `${h.url}${request.url}`,
        { method: request.method, headers: request.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      request.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    const asked = peer.requests.length;
    const restarted = await startParley({
      database: h.database,
      soleProcess: true,
      withChat: false,
      chatUrl: `http://127.0.0.1:${port}`,
    });
    try {
      const reply = await h.replyTo(user, orphan, 10_000);
      assert.equal(reply.body, TOKENS.join(''));
      await waitFor(async () => (await replies.find(orphan.id))?.state === 'done', 5000);
      assert.equal((await replies.find(orphan.id))?.outcome, 'answered');
      assert.equal(peer.requests.length - asked, 1, 'asked again, as before the lookup existed');
      assert.ok(
        restarted.logs.some((line) => line.includes('could not ask chat whether a taken-over reply')),
      );
    } finally {
      await restarted.close();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe('leases of slow replies', () => {
  it('keeps replies waiting behind a slow one its own: each question is asked once', async () => {
    // Production's proportions, shrunk: the lease is the total timeout plus a margin, and each reply
    // takes most of it, so the third question waits two leases before its turn.
    const slow = await startParley({
      config: { botsFirstTokenTimeoutMs: 2000, botsTotalTimeoutMs: 3000, botsDailyTokenQuota: 1_000_000 },
      tuning: { leaseMs: 1200, sweepMs: 150 },
    });
    const provider = await OpenAiTestServer.start();
    try {
      const owner = await slow.user('admin');
      const bot = (
        await slow.request<Bot>(owner, 'POST', '/api/v1/bots', {
          name: 'Slow Helper',
          kind: 'llm',
          config: { baseUrl: provider.baseUrl, model: 'slow-model', apiKey: 'sk-slow' },
        })
      ).body;
      provider.respond({
        kind: 'reply',
        tokens: ['a', 'b', 'c', 'd'],
        firstTokenDelayMs: 100,
        tokenDelayMs: 250,
      });
      const user = await slow.user();
      const conversation = await slow.openBotConversation(user, bot.id);
      const questions = [];
      for (const text of ['one?', 'two?', 'three?'])
        questions.push(await slow.send(user, conversation.id, text));
      for (const question of questions) await slow.replyTo(user, question);
      await sleep(1500);
      assert.deepEqual(
        provider.requests.map((request) => request.body.messages?.at(-1)?.content),
        ['one?', 'two?', 'three?'],
        'no question asked twice',
      );
    } finally {
      await slow.close();
      await provider.close();
    }
  });
});
