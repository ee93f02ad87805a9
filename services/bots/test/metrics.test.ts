import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Bot } from '@parley/contracts';
import { metricSample } from '@parley/kernel/testing';
import { DEFAULT_BOT_ID } from '../src/domain/default-bot.ts';
import { NOTICES } from '../src/replies/notices.ts';
import { OpenAiTestServer } from '../src/testing/openai-test-server.ts';
import { type Harness, startParley, type TestUser, waitFor } from './support/harness.ts';

describe('bots metrics on /metrics', () => {
  let h: Harness;
  let peer: OpenAiTestServer;
  let llmBot: Bot;

  const scrape = async () => {
    const response = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    return response.body;
  };
  const ask = async (user: TestUser, botId: string, question: string) => {
    const conversation = await h.openBotConversation(user, botId);
    return h.replyTo(user, await h.send(user, conversation.id, question));
  };

  before(async () => {
    peer = await OpenAiTestServer.start();
    h = await startParley({
      config: { botsFirstTokenTimeoutMs: 500, botsTotalTimeoutMs: 2000, botsDailyTokenQuota: 1_000_000 },
      tuning: { resilience: { retries: 0, backoffMs: () => 10 } },
    });
    const admin = await h.user('admin');
    const created = await h.request<Bot>(admin, 'POST', '/api/v1/bots', {
      name: 'Metered',
      kind: 'llm',
      config: { baseUrl: peer.baseUrl, model: 'test-model', apiKey: 'sk-metrics-test', contextMessages: 0 },
    });
    assert.equal(created.status, 201);
    llmBot = created.body;
  });
  after(async () => {
    await h.close();
    await peer.close();
  });

  it('counts replies by outcome, times the first token and adds up the tokens', async () => {
    const user = await h.user();
    peer.respond({ kind: 'reply', tokens: ['Hello', ' there'], firstTokenDelayMs: 30 });
    assert.equal((await ask(user, llmBot.id, 'Hi?')).body, 'Hello there');
    peer.respond({ kind: 'status', status: 500 });
    assert.equal((await ask(user, llmBot.id, 'Still there?')).body, NOTICES.failed);
    await ask(user, DEFAULT_BOT_ID, '/help');

    // The outcome is recorded (and counted) just after the reply is posted.
    await waitFor(
      async () => metricSample(await scrape(), 'bots_replies_total', { outcome: 'command' }) === 1,
    );
    const text = await scrape();
    assert.equal(metricSample(text, 'bots_replies_total', { outcome: 'answered' }), 1);
    assert.equal(metricSample(text, 'bots_replies_total', { outcome: 'failed' }), 1);
    assert.equal(
      metricSample(text, 'bots_first_token_seconds_count'),
      1,
      'only the streamed reply had a token',
    );
    assert.ok((metricSample(text, 'bots_first_token_seconds_sum') ?? 0) >= 0.03, 'the provider took 30 ms');
    assert.equal(metricSample(text, 'bots_reply_duration_seconds_count', { outcome: 'failed' }), 1);
    assert.ok((metricSample(text, 'bots_tokens_total', { type: 'prompt' }) ?? 0) > 0);
    assert.ok((metricSample(text, 'bots_tokens_total', { type: 'completion' }) ?? 0) > 0);
    assert.notEqual(metricSample(text, 'outbox_pending_events', { service: 'bots' }), undefined);
  });
});
