import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Bot } from '@parley/contracts';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
import { usageDay } from '../src/domain/usage-meter.ts';
import { UsageRepository } from '../src/repositories/usage-repository.ts';
import { OpenAiTestServer } from '../src/testing/openai-test-server.ts';
import { openTestDatabase } from './support/databases.ts';
import { type Harness, sleep, startParley, type TestUser, waitFor } from './support/harness.ts';

const TOKENS = ['Parley', ' speaks', ' OpenAI', ' too', '.'];

let h: Harness;
let peer: OpenAiTestServer;
let user: TestUser;
let llmBot: Bot;
let client: OpenAI;

const QUOTA = 1_000_000;
const BROWSER_ORIGIN = 'https://client.example';

/** Records `tokens` of today's usage for the user, as earlier replies would have. */
async function spend(user: TestUser, tokens: number): Promise<void> {
  await new UsageRepository(h.database.database.db).add({
    day: usageDay(),
    userId: user.id,
    botId: llmBot.id,
    model: 'earlier-model',
    promptTokens: tokens,
    completionTokens: 0,
    costUsd: 0,
  });
}

async function tokensToday(user: TestUser): Promise<number> {
  const rows = await new UsageRepository(h.database.database.db).forUser(user.id);
  return rows
    .filter((row) => row.day === usageDay())
    .reduce((sum, row) => sum + row.promptTokens + row.completionTokens, 0);
}

function words(count: number): string[] {
  return Array.from({ length: count }, (_, index) => ` w${index}`);
}

before(async () => {
  peer = await OpenAiTestServer.start();
  h = await startParley({
    database: await openTestDatabase(),
    config: { botsDailyTokenQuota: QUOTA },
    corsOrigins: [BROWSER_ORIGIN],
  });
  const admin = await h.user('admin');
  user = await h.user('user');
  llmBot = (
    await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
      name: 'Echo LLM',
      description: 'Talks through a local test provider',
      kind: 'llm',
      config: {
        baseUrl: peer.baseUrl,
        model: 'upstream-model',
        apiKey: 'sk-upstream',
        systemPrompt: 'You are Echo LLM.',
      },
    })
  ).body;
  // The official SDK, pointed at Parley on loopback, signed in with a Parley access token.
  client = new OpenAI({ baseURL: `${h.url}/api/v1/openai`, apiKey: user.token, maxRetries: 0 });
});

after(async () => {
  await h.close();
  await h.database.dispose();
  await peer.close();
});

describe('the official openai SDK against Parley', () => {
  it('lists the bots as models', async () => {
    const models = await client.models.list();
    const ids = models.data.map((model) => model.id);
    assert.ok(ids.includes(DEFAULT_BOT_ID));
    assert.ok(ids.includes(llmBot.id));
    assert.equal(models.data.find((model) => model.id === llmBot.id)?.owned_by, 'parley');
  });

  it('streams a reply from an LLM bot named by its name, with usage', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS, tokenDelayMs: 5 });
    const stream = await client.chat.completions.create({
      model: 'echo llm',
      messages: [{ role: 'user', content: 'Say something.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) pieces.push(piece);
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(pieces.join(''), TOKENS.join(''));
    assert.ok(pieces.length >= 2, 'streamed in pieces');
    assert.equal(finish, 'stop');
    assert.equal(usage?.completion_tokens, TOKENS.length);
    const upstream = peer.requests.at(-1)!;
    assert.equal(upstream.body.model, 'upstream-model');
    assert.equal(upstream.authorization, 'Bearer sk-upstream');
    assert.equal(upstream.body.messages?.[0]?.role, 'system');
    assert.match(upstream.body.messages![0]!.content, /You are Echo LLM/);
    const rows = await new UsageRepository(h.database.database.db).forUser(user.id);
    assert.equal(rows[0]?.model, 'upstream-model');
    assert.equal(rows[0]?.completionTokens, TOKENS.length);
  });

  it('streams a knowledge bot answer too, and answers without streaming', async () => {
    const stream = await client.chat.completions.create({
      model: DEFAULT_BOT_ID,
      messages: [{ role: 'user', content: 'What does /reset do?' }],
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    assert.match(streamed, /forget/);
    const whole = await client.chat.completions.create({
      model: 'Parley Assistant',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What does /reset do?' }] }],
    });
    assert.equal(whole.choices[0]?.message.content, streamed);
    assert.equal(whole.object, 'chat.completion');
    // Words that name Object's own properties are words like any other.
    for (const content of ['constructor', 'what is toString and __proto__ for hasOwnProperty']) {
      const odd = await client.chat.completions.create({
        model: DEFAULT_BOT_ID,
        messages: [{ role: 'user', content }],
      });
      assert.ok(odd.choices[0]?.message.content, content);
    }
  });

  it('gives every answer its own id, even answers of one bot in the same millisecond', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        client.chat.completions.create({
          model: DEFAULT_BOT_ID,
          messages: [{ role: 'user', content: 'What does /reset do?' }],
        }),
      ),
    );
    const ids = answers.map((answer) => answer.id);
    assert.equal(new Set(ids).size, ids.length, ids.join(' '));
    for (const id of ids) assert.match(id, /^chatcmpl-./);
  });

  it("passes on that the provider cut the answer at max_tokens (finish_reason 'length')", async () => {
    peer.respond({ kind: 'reply', tokens: ['Cut', ' short'], finishReason: 'length' });
    const whole = await client.chat.completions.create({
      model: llmBot.id,
      messages: [{ role: 'user', content: 'Tell me everything.' }],
      max_tokens: 2,
    });
    assert.equal(whole.choices[0]?.message.content, 'Cut short');
    assert.equal(whole.choices[0]?.finish_reason, 'length');
    const stream = await client.chat.completions.create({
      model: llmBot.id,
      messages: [{ role: 'user', content: 'Tell me everything.' }],
      max_tokens: 2,
      stream: true,
    });
    const reasons: (string | null)[] = [];
    for await (const chunk of stream) reasons.push(chunk.choices[0]?.finish_reason ?? null);
    assert.equal(reasons.at(-1), 'length');
    peer.respond({ kind: 'reply', tokens: TOKENS });
    const finished = await client.chat.completions.create({
      model: llmBot.id,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(finished.choices[0]?.finish_reason, 'stop');
  });

  it("hands the client's stop sequences to the provider", async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS });
    await client.chat.completions.create({
      model: llmBot.id,
      messages: [{ role: 'user', content: 'List things.' }],
      stop: ['\n\n', 'END'],
    });
    assert.deepEqual(peer.requests.at(-1)?.body.stop, ['\n\n', 'END']);
    const stream = await client.chat.completions.create({
      model: llmBot.id,
      messages: [{ role: 'user', content: 'List things.' }],
      stop: 'Observation:',
      stream: true,
    });
    for await (const _chunk of stream) {
      // drained
    }
    assert.deepEqual(peer.requests.at(-1)?.body.stop, ['Observation:']);
    await client.chat.completions.create({
      model: llmBot.id,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(peer.requests.at(-1)?.body.stop, undefined);
    // OpenAI takes at most four.
    const { status, body } = await h.request<{ code: string }>(
      user,
      'POST',
      '/api/v1/openai/chat/completions',
      { model: llmBot.id, messages: [{ role: 'user', content: 'hi' }], stop: ['a', 'b', 'c', 'd', 'e'] },
    );
    assert.equal(status, 400);
    assert.equal(body.code, 'validation_failed');
  });

  it('accepts a personal API key as the bearer', async () => {
    const withKey = new OpenAI({
      baseURL: `${h.url}/api/v1/openai`,
      apiKey: h.auth.apiKey(user.id, 'user'),
      maxRetries: 0,
    });
    const models = await withKey.models.list();
    assert.ok(models.data.length >= 2);
  });

  it('maps failures to OpenAI SDK errors', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-bot', messages: [{ role: 'user', content: 'hi' }] }),
      (error) => error instanceof OpenAI.NotFoundError,
    );
    const stranger = new OpenAI({ baseURL: `${h.url}/api/v1/openai`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(stranger.models.list(), (error) => error instanceof OpenAI.AuthenticationError);
    peer.respond({ kind: 'status', status: 500 });
    await assert.rejects(
      client.chat.completions.create({
        model: llmBot.id,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      }),
      (error) => error instanceof OpenAI.APIError && error.status === 502,
    );
    await assert.rejects(
      client.chat.completions.create({
        model: llmBot.id,
        messages: [{ role: 'system', content: 'no question' }],
      }),
      (error) => error instanceof OpenAI.BadRequestError,
    );
  });

  it('answers a provider that sends a web page instead of a stream with the provider problem', async () => {
    peer.respond({ kind: 'page' });
    for (const stream of [true, false]) {
      const { status, body } = await h.request<{ code: string }>(
        user,
        'POST',
        '/api/v1/openai/chat/completions',
        { model: llmBot.id, messages: [{ role: 'user', content: 'hi' }], stream },
      );
      assert.equal(status, 503, `stream: ${stream}`);
      assert.equal(body.code, 'provider_unavailable');
    }
  });

  it('answers a stream of chunks without text as an empty completion', async () => {
    peer.respond({ kind: 'reply', tokens: [] });
    const whole = await client.chat.completions.create({
      model: llmBot.id,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(whole.choices[0]?.message.content, '');
    assert.equal(whole.choices[0]?.finish_reason, 'stop');
  });

  it('refuses politely once the daily quota is spent (429)', async () => {
    const spender = await h.user('user');
    await new UsageRepository(h.database.database.db).add({
      day: usageDay(),
      userId: spender.id,
      botId: llmBot.id,
      model: 'upstream-model',
      promptTokens: 1_000_000,
      completionTokens: 0,
      costUsd: 0,
    });
    const spent = new OpenAI({ baseURL: `${h.url}/api/v1/openai`, apiKey: spender.token, maxRetries: 0 });
    await assert.rejects(
      spent.chat.completions.create({ model: llmBot.id, messages: [{ role: 'user', content: 'hi' }] }),
      (error) => error instanceof OpenAI.RateLimitError,
    );
  });

  it('holds parallel completions with one API key to the daily quota', async () => {
    const spender = await h.user('user');
    const left = 200;
    await spend(spender, QUOTA - left);
    // Long enough that a few replies overrun what is left, slow enough that all ten are asked at once.
    peer.respond({ kind: 'reply', tokens: words(50), firstTokenDelayMs: 300 });
    const withKey = new OpenAI({
      baseURL: `${h.url}/api/v1/openai`,
      apiKey: h.auth.apiKey(spender.id, 'user'),
      maxRetries: 0,
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        withKey.chat.completions.create({
          model: llmBot.id,
          messages: [{ role: 'user', content: 'Count to fifty.' }],
          max_tokens: 50,
        }),
      ),
    );
    const answered = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    assert.ok(answered.length >= 1, 'some were answered');
    // Each call is admitted only while something is left, with its worth set aside: at most one
    // reply's usage beyond what was left.
    const largest = Math.max(...answered.map((completion) => completion.usage?.total_tokens ?? 0));
    const spent = (await tokensToday(spender)) - (QUOTA - left);
    assert.ok(spent <= left + largest, `spent ${spent} of ${left} left (one reply: ${largest})`);
    assert.ok(refused.length >= 1, 'the rest were refused');
    for (const reason of refused) assert.ok(reason instanceof OpenAI.RateLimitError, String(reason));
  });

  it('gives back what a failed completion set aside', async () => {
    const spender = await h.user('user');
    await spend(spender, QUOTA - 100);
    const spent = new OpenAI({ baseURL: `${h.url}/api/v1/openai`, apiKey: spender.token, maxRetries: 0 });
    const ask = () =>
      spent.chat.completions.create({
        model: llmBot.id,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 50,
      });
    peer.respond({ kind: 'status', status: 400 });
    for (let attempt = 0; attempt < 3; attempt++)
      await assert.rejects(ask(), (error) => error instanceof OpenAI.APIError && error.status === 502);
    peer.respond({ kind: 'reply', tokens: TOKENS });
    assert.equal((await ask()).choices[0]?.message.content, TOKENS.join(''));
  });

  it('meters a non-streaming completion whose client went away', async () => {
    const leaver = await h.user('user');
    peer.respond({ kind: 'reply', tokens: words(40), tokenDelayMs: 40 });
    const asked = peer.requests.length;
    // Connections of its own, destroyed at the end: after the abort, the shared pool was seen to keep a
    // connection that held the server's close for its keep-alive timeout (72 s).
    const connections = new Agent();
    const leaving = new OpenAI({
      baseURL: `${h.url}/api/v1/openai`,
      apiKey: leaver.token,
      maxRetries: 0,
      fetch: (input, init) =>
        undiciFetch(input as string, { ...(init as object), dispatcher: connections }) as never,
    });
    try {
      const control = new AbortController();
      const pending = leaving.chat.completions.create(
        { model: llmBot.id, messages: [{ role: 'user', content: 'Count to forty.' }] },
        { signal: control.signal },
      );
      await waitFor(() => peer.requests[asked]?.firstTokenAt !== undefined);
      await sleep(200);
      control.abort();
      await assert.rejects(pending, (error) => error instanceof OpenAI.APIUserAbortError);
      await waitFor(async () => (await tokensToday(leaver)) > 0);
      const [row] = await new UsageRepository(h.database.database.db).forUser(leaver.id);
      assert.equal(row?.model, 'upstream-model');
      assert.ok(row!.promptTokens > 0, 'the prompt is billed');
      assert.ok(row!.completionTokens > 0 && row!.completionTokens < 40, 'and what was generated so far');
    } finally {
      await connections.destroy();
    }
  });

  it('streams with the headers every other answer of the process carries (CORS for a browser)', async () => {
    const ask = (stream: boolean) =>
      fetch(`${h.url}/api/v1/openai/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${user.token}`,
          'content-type': 'application/json',
          origin: BROWSER_ORIGIN,
        },
        body: JSON.stringify({ model: DEFAULT_BOT_ID, messages: [{ role: 'user', content: 'hi' }], stream }),
      });
    const whole = await ask(false);
    await whole.text();
    assert.equal(whole.headers.get('access-control-allow-origin'), BROWSER_ORIGIN);
    const streamed = await ask(true);
    const events = await streamed.text();
    assert.equal(streamed.status, 200);
    assert.match(streamed.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(events.endsWith('data: [DONE]\n\n'));
    // A browser reads the stream only when the answer allows its origin, as the JSON answer did.
    assert.equal(streamed.headers.get('access-control-allow-origin'), BROWSER_ORIGIN);
    assert.equal(
      streamed.headers.get('access-control-expose-headers'),
      whole.headers.get('access-control-expose-headers'),
    );
    assert.ok(streamed.headers.get('x-request-id'));
  });

  it('rejects unknown request fields with 400', async () => {
    const { status, body } = await h.request<{ code: string }>(
      user,
      'POST',
      '/api/v1/openai/chat/completions',
      {
        model: DEFAULT_BOT_ID,
        messages: [{ role: 'user', content: 'hi' }],
        tools: [],
      },
    );
    assert.equal(status, 400);
    assert.equal(body.code, 'validation_failed');
  });
});
