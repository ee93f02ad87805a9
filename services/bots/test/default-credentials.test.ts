import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Bot } from '@parley/contracts';
import { OpenAiTestServer } from '../src/testing/openai-test-server.ts';
import { type Harness, startParley, type TestUser } from './support/harness.ts';

/*
 * OPENAI_API_KEY is the key of the default provider (OPENAI_BASE_URL, or OpenAI): it goes to that provider
 * only. A bot that names a provider of its own without a key of its own must not hand the operator's key
 * to whatever host its URL names, where anyone running that host could read it.
 */
const DEFAULT_KEY = 'sk-operator-default-key-0123456789';

let h: Harness;
let defaultProvider: OpenAiTestServer;
let otherProvider: OpenAiTestServer;
let admin: TestUser;
let user: TestUser;

async function ask(bot: Bot): Promise<number> {
  const { status } = await h.request(user, 'POST', '/api/v1/openai/chat/completions', {
    model: bot.id,
    messages: [{ role: 'user', content: 'Hello?' }],
  });
  return status;
}

async function llmBot(name: string, config: Record<string, unknown>): Promise<Bot> {
  const { status, body } = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
    name,
    kind: 'llm',
    config: { model: 'm', ...config },
  });
  assert.equal(status, 201);
  return body;
}

before(async () => {
  defaultProvider = await OpenAiTestServer.start();
  otherProvider = await OpenAiTestServer.start();
  h = await startParley({
    config: { openaiApiKey: DEFAULT_KEY, openaiBaseUrl: defaultProvider.baseUrl },
  });
  admin = await h.user('admin');
  user = await h.user('user');
});

after(async () => {
  await h.close();
  await defaultProvider.close();
  await otherProvider.close();
});

describe('the default provider key', () => {
  it('goes to the default provider, for a bot without a URL or with that same URL', async () => {
    assert.equal(await ask(await llmBot('Defaults', {})), 200);
    assert.equal(defaultProvider.requests.at(-1)?.authorization, `Bearer ${DEFAULT_KEY}`);
    assert.equal(await ask(await llmBot('Same URL', { baseUrl: defaultProvider.baseUrl })), 200);
    assert.equal(defaultProvider.requests.at(-1)?.authorization, `Bearer ${DEFAULT_KEY}`);
  });

  it('never goes to a provider a bot names itself', async () => {
    assert.equal(await ask(await llmBot('Elsewhere', { baseUrl: otherProvider.baseUrl })), 200);
    const seen = otherProvider.requests.at(-1);
    assert.ok(seen, 'the bot still asks its own provider');
    assert.ok(!seen.authorization?.includes(DEFAULT_KEY), `sent ${seen.authorization}`);
  });

  it('leaves a bot with its own key using that key', async () => {
    const bot = await llmBot('Own key', { baseUrl: otherProvider.baseUrl, apiKey: 'sk-own' });
    assert.equal(await ask(bot), 200);
    assert.equal(otherProvider.requests.at(-1)?.authorization, 'Bearer sk-own');
  });
});
