import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OpenAiTestServer, type RecordedRequest } from '@parley/bots/testing';
import type { Socket } from 'socket.io-client';
import type { ParleyProcess } from '../src/cluster/parley-process.ts';
import { Leftovers } from './support/leftovers.ts';
import {
  call,
  eventually,
  history,
  type MessageView,
  register,
  type Session,
} from './support/parley-client.ts';
import { EMBEDDED, startSingleProcess } from './support/single-process.ts';

const ADMIN = { email: 'crash-admin@example.com', password: 'an admin passphrase nobody guesses' };
const ENV = {
  ...EMBEDDED,
  PARLEY_EGRESS_ALLOWLIST: '127.0.0.1',
  PARLEY_ADMIN_EMAIL: ADMIN.email,
  PARLEY_ADMIN_PASSWORD: ADMIN.password,
};
const FAQ_BOT_ID = 'bot_00000000000000000000000001';
/** How long a restarted process may take to answer what its predecessor left unanswered. */
const TAKEOVER_BOUND_MS = 20_000;

interface Booted {
  parley: ParleyProcess;
  base: string;
}

type BotMessage = MessageView & { senderType: string; senderId: string };

/** The question a provider request answers: the last user turn of its prompt. */
function question(request: RecordedRequest): string {
  return request.body.messages?.findLast((turn) => turn.role === 'user')?.content ?? '';
}

describe('a bot reply in the embedded process across SIGKILL', () => {
  let dataDir: string;
  let peer: OpenAiTestServer;
  const leftovers = new Leftovers();

  const boot = async (): Promise<Booted> => {
    const booted = await startSingleProcess(ENV, dataDir);
    leftovers.process(booted.parley);
    return booted;
  };
  const kill = async (booted: Booted) => {
    booted.parley.child.kill('SIGKILL');
    await booted.parley.exited;
  };
  const open = (base: string, token: string) => leftovers.socket(base, token);

  before(async () => {
    dataDir = await leftovers.dataDir('parley-bot-crash-');
    peer = await OpenAiTestServer.start();
  });
  after(async () => {
    await leftovers.cleanUp();
    await peer.close();
  });

  /** The conversation's bot messages after the user's message at `seq`. */
  const repliesTo = async (base: string, user: Session, conversationId: string, seq: number) =>
    ((await history(base, user.accessToken, conversationId)) as BotMessage[]).filter(
      (message) => message.seq > seq && message.senderType === 'bot',
    );

  const ask = async (base: string, user: Session, conversationId: string, body: string) => {
    const sent = await call<MessageView>(base, 'POST', `/api/v1/conversations/${conversationId}/messages`, {
      token: user.accessToken,
      body: { body, clientMessageId: `ask-${body}` },
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    return sent.body;
  };

  /** Waits for one reply, then a little more to see that no second one follows. */
  const exactlyOneReply = async (
    base: string,
    user: Session,
    conversationId: string,
    seq: number,
    what: string,
  ): Promise<{ reply: BotMessage; afterMs: number }> => {
    const began = Date.now();
    let found: BotMessage[] = [];
    // Polled gently: the process limits each user's requests.
    for (;;) {
      found = await repliesTo(base, user, conversationId, seq);
      if (found.length > 0) break;
      if (Date.now() - began > TAKEOVER_BOUND_MS)
        assert.fail(`no reply to ${what} in ${TAKEOVER_BOUND_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const afterMs = Date.now() - began;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    found = await repliesTo(base, user, conversationId, seq);
    assert.equal(found.length, 1, `${what}: ${JSON.stringify(found.map((message) => message.body))}`);
    return { reply: found[0]!, afterMs };
  };

  const drafts = async (client: Socket, conversations: Record<string, number>) => {
    const synced = (await client.timeout(10_000).emitWithAck('sync', { conversations })) as {
      ok: boolean;
      drafts: { conversationId: string; draftId: string; text: string }[];
    };
    assert.equal(synced.ok, true, JSON.stringify(synced));
    return synced.drafts;
  };

  it('answers exactly once what a SIGKILL interrupted: before the first token, mid-stream, right after posting, and for the faq bot', async (t) => {
    peer.respond((request) => {
      const asked = question(request);
      if (asked === 'held question') return { kind: 'hang' };
      if (asked === 'streamed question') return { kind: 'stall', tokens: ['Half ', 'an ', 'answer'] };
      return { kind: 'reply', tokens: ['Whole', ' answer', ' to: ', asked] };
    });
    const first = await boot();
    const admin = await call<{ accessToken: string }>(first.base, 'POST', '/api/v1/auth/login', {
      body: ADMIN,
    });
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    const bot = await call<{ id: string }>(first.base, 'POST', '/api/v1/bots', {
      token: admin.body.accessToken,
      body: {
        name: 'Crash LLM',
        kind: 'llm',
        config: { baseUrl: peer.baseUrl, model: 'test-model', apiKey: 'test-key' },
      },
    });
    assert.equal(bot.status, 201, JSON.stringify(bot.body));
    const user = await register(first.base, 'crash-user@example.com');
    const conversation = async (botId: string) => {
      let id: string | undefined;
      // Chat learns of the new user from identity's events, a moment after registering.
      await eventually(
        async () => {
          const opened = await call<{ id: string }>(first.base, 'POST', '/api/v1/conversations', {
            token: user.accessToken,
            body: { type: 'bot', botId },
          });
          if (opened.status === 201) id = opened.body.id;
          return id !== undefined;
        },
        15_000,
        'chat to know the user',
      );
      return id as string;
    };
    const held = await conversation(bot.body.id);
    const streamed = await conversation(bot.body.id);
    const faq = await conversation(FAQ_BOT_ID);

    const client = await open(first.base, user.accessToken);
    const deltas: { conversationId: string }[] = [];
    client.on('message:delta', (delta: { conversationId: string }) => deltas.push(delta));
    const heldAsk = await ask(first.base, user, held, 'held question');
    const streamedAsk = await ask(first.base, user, streamed, 'streamed question');
    await eventually(
      () => peer.requests.some((request) => question(request) === 'held question'),
      10_000,
      'the provider to be asked the held question',
    );
    await eventually(
      () => deltas.some((delta) => delta.conversationId === streamed),
      10_000,
      'the streamed answer to start',
    );
    const draftsBefore = await drafts(client, { [streamed]: streamedAsk.seq });
    assert.equal(draftsBefore.length, 1, 'the streamed answer is a draft before the crash');
    // The faq bot answers in-process at once: killed right after the ack, it is anywhere in its reply.
    const faqAsk = await ask(first.base, user, faq, 'How do I reset my password?');
    client.disconnect();
    await kill(first);

    peer.respond((request) => ({ kind: 'reply', tokens: ['Whole', ' answer', ' to: ', question(request)] }));
    const second = await boot();
    const [heldReply, streamedReply, faqReply] = await Promise.all([
      exactlyOneReply(second.base, user, held, heldAsk.seq, 'the held question'),
      exactlyOneReply(second.base, user, streamed, streamedAsk.seq, 'the streamed question'),
      exactlyOneReply(second.base, user, faq, faqAsk.seq, 'the faq question'),
    ]);
    t.diagnostic(
      `after restart, replies within ${heldReply.afterMs} ms (held), ${streamedReply.afterMs} ms (streamed), ${faqReply.afterMs} ms (faq)`,
    );
    assert.equal(heldReply.reply.body, 'Whole answer to: held question');
    assert.equal(streamedReply.reply.body, 'Whole answer to: streamed question');
    assert.equal(faqReply.reply.senderId, FAQ_BOT_ID);
    const resumed = await open(second.base, user.accessToken);
    assert.deepEqual(
      await drafts(resumed, { [held]: heldAsk.seq, [streamed]: streamedAsk.seq, [faq]: faqAsk.seq }),
      [],
      'no draft is left behind',
    );

    // Killed the moment the replies are out, before what follows a post (transcript, outcome, event).
    const posted: string[] = [];
    resumed.on('message:new', (message: BotMessage) => {
      if (message.senderType === 'bot') posted.push(message.conversationId);
    });
    const askedAgain = () =>
      peer.requests.filter((request) => question(request) === 'posted question').length;
    const llmAsk = await ask(second.base, user, held, 'posted question');
    const faqAgain = await ask(second.base, user, faq, 'How do I change my email?');
    await eventually(
      () => posted.includes(held) && posted.includes(faq),
      10_000,
      'both replies to be posted',
    );
    second.parley.child.kill('SIGKILL');
    const askedBeforeKill = askedAgain();
    resumed.disconnect();
    await kill(second);

    const third = await boot();
    const [llmReply, faqAgainReply] = await Promise.all([
      exactlyOneReply(third.base, user, held, llmAsk.seq, 'the posted llm question'),
      exactlyOneReply(third.base, user, faq, faqAgain.seq, 'the posted faq question'),
    ]);
    assert.equal(llmReply.reply.body, 'Whole answer to: posted question');
    assert.equal(faqAgainReply.reply.senderId, FAQ_BOT_ID);
    t.diagnostic(
      `killed right after posting: the provider was asked ${askedBeforeKill} time(s) before, ${askedAgain() - askedBeforeKill} after the restart`,
    );
    // The takeover finds the posted reply in chat: the user is not billed for the same answer twice.
    assert.equal(askedAgain(), 1, 'the provider was asked the posted question once');
    const last = await open(third.base, user.accessToken);
    assert.deepEqual(await drafts(last, { [held]: llmAsk.seq, [faq]: faqAgain.seq }), []);
    await kill(third);
  });
});
