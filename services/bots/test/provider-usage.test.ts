import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Bot } from '@parley/contracts';
import { UsageRepository } from '../src/repositories/usage-repository.ts';
import { openTestDatabase } from './support/databases.ts';
import { type Harness, startParley, type TestUser } from './support/harness.ts';

/*
 * An OpenAI-compatible server is not obliged to report usage the way OpenAI does: some report fractional,
 * negative, huge or missing counts. Whatever it reports, the caller still gets the answer it gave (with
 * estimated counts), a stream still ends, and a conversation still gets its one reply.
 */
const ODD_USAGE: Record<string, unknown>[] = [
  { prompt_tokens: 1.5, completion_tokens: 2, total_tokens: 3.5 },
  { prompt_tokens: -5, completion_tokens: 2, total_tokens: -3 },
  { prompt_tokens: 1e20, completion_tokens: 1, total_tokens: 1e20 },
  { prompt_tokens: null, completion_tokens: null, total_tokens: null },
  { prompt_tokens: 'many', completion_tokens: 1, total_tokens: 1 },
  {},
];

let usage: Record<string, unknown> = {};
let h: Harness;
let upstream: Server;
let user: TestUser;
let bot: Bot;

function completions(stream: boolean): Promise<Response> {
  return fetch(`${h.url}/api/v1/openai/chat/completions`, {
    method: 'POST',
    signal: AbortSignal.timeout(4000),
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: bot.id,
      messages: [{ role: 'user', content: 'Hello?' }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  });
}

function assertCounts(counts: unknown): void {
  const { prompt_tokens, completion_tokens } = counts as Record<string, unknown>;
  for (const count of [prompt_tokens, completion_tokens]) {
    assert.ok(Number.isSafeInteger(count) && (count as number) >= 0, `a token count: ${String(count)}`);
  }
}

before(async () => {
  upstream = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const chunk = { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm' };
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        `data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] })}\n\n`,
      );
      response.write(
        `data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
      );
      response.write(`data: ${JSON.stringify({ ...chunk, choices: [], usage })}\n\n`);
      response.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  h = await startParley({ database: await openTestDatabase(), config: { botsDailyTokenQuota: 1_000_000 } });
  const admin = await h.user('admin');
  user = await h.user('user');
  const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
    name: 'Odd usage',
    kind: 'llm',
    config: {
      baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
      model: 'odd-model',
      apiKey: 'sk-odd',
    },
  });
  assert.equal(created.status, 201);
  bot = created.body;
});

after(async () => {
  await h.close();
  await h.database.dispose();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe('a provider reporting token counts that are not counts', () => {
  for (const reported of ODD_USAGE) {
    const label = JSON.stringify(reported);

    it(`${label}: the completion is answered, with counts that are counts`, async () => {
      usage = reported;
      const response = await completions(false);
      assert.equal(response.status, 200, await response.clone().text());
      const body = (await response.json()) as { choices: { message: { content: string } }[]; usage: unknown };
      assert.equal(body.choices[0]?.message.content, 'Hi');
      assertCounts(body.usage);
    });

    it(`${label}: the stream ends with [DONE]`, async () => {
      usage = reported;
      const response = await completions(true);
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /"content":"Hi"/);
      assert.ok(text.trimEnd().endsWith('data: [DONE]'), text);
      const last = text
        .split('\n\n')
        .map((event) => event.replace(/^data: /, ''))
        .filter((event) => event.startsWith('{'))
        .map((event) => JSON.parse(event) as { usage?: unknown })
        .at(-1);
      assertCounts(last?.usage);
    });

    it(`${label}: the conversation gets its one reply`, async () => {
      usage = reported;
      const conversation = await h.openBotConversation(user, bot.id);
      const message = await h.send(user, conversation.id, 'Hello?');
      const reply = await h.replyTo(user, message, 4000);
      assert.equal(reply.body, 'Hi');
    });
  }

  it('records only whole, non-negative counts', async () => {
    const rows = await new UsageRepository(h.database.database.db).forUser(user.id);
    assert.ok(rows.length > 0);
    for (const row of rows)
      assertCounts({ prompt_tokens: row.promptTokens, completion_tokens: row.completionTokens });
  });
});
