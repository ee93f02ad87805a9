import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EgressGuard } from '../src/egress/egress-guard.ts';
import { EgressPolicy } from '../src/egress/egress-policy.ts';
import { KnowledgeBase } from '../src/knowledge/knowledge-base.ts';
import type { ChatProvider, CompletionChunk } from '../src/providers/chat-provider.ts';
import { KnowledgeProvider, UNKNOWN_ANSWER } from '../src/providers/knowledge-provider.ts';
import { OpenAiProvider } from '../src/providers/openai-provider.ts';
import { ProviderError } from '../src/providers/provider-error.ts';
import { ResilientProvider } from '../src/providers/resilient-provider.ts';
import { OpenAiTestServer } from '../src/testing/openai-test-server.ts';
import { LIBRARY_DOCUMENTS } from './support/library-knowledge.ts';
import { collect, runProviderContract } from './support/provider-contract.ts';

const TOKENS = ['The', ' library', ' opens', ' at', ' nine', '.'];

/** Everything a provider streams for a one-line question with nothing to cancel it. */
function askHi(provider: ChatProvider): Promise<CompletionChunk[]> {
  return collect(
    provider.stream({
      model: 'm',
      messages: [{ role: 'user', content: 'Hi' }],
      signal: new AbortController().signal,
    }),
  );
}

function openAiProvider(
  peer: OpenAiTestServer,
  allowlist = ['127.0.0.1'],
): { provider: OpenAiProvider; guard: EgressGuard } {
  const guard = new EgressGuard(new EgressPolicy(allowlist));
  return {
    guard,
    provider: new OpenAiProvider({
      baseUrl: peer.baseUrl,
      apiKey: 'sk-test-key',
      fetch: guard.fetch,
      timeoutMs: 10_000,
    }),
  };
}

runProviderContract('OpenAI-compatible over HTTP (openai SDK)', async () => {
  const peer = await OpenAiTestServer.start();
  peer.respond({ kind: 'reply', tokens: TOKENS, tokenDelayMs: 5 });
  const { provider, guard } = openAiProvider(peer);
  return {
    provider,
    request: { model: 'test-model', messages: [{ role: 'user', content: 'When do you open?' }] },
    expectedText: TOKENS.join(''),
    close: async () => {
      await guard.close();
      await peer.close();
    },
  };
});

runProviderContract('in-process knowledge base', async () => {
  const base = new KnowledgeBase(LIBRARY_DOCUMENTS);
  const provider = new KnowledgeProvider({ knowledgeOf: async () => ({ base, threshold: 0.55 }) });
  return {
    provider,
    request: { model: 'bot_library', messages: [{ role: 'user', content: 'When are you open?' }] },
    expectedText: base.answer('When are you open?')!.passage.text,
    close: async () => {},
  };
});

describe('OpenAI-compatible provider', () => {
  let peer: OpenAiTestServer;
  before(async () => {
    peer = await OpenAiTestServer.start();
  });
  after(() => peer.close());

  it('sends the model, messages, options and the API key', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS });
    const { provider, guard } = openAiProvider(peer);
    const chunks = await collect(
      provider.stream({
        model: 'gpt-test',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
        temperature: 0.3,
        maxTokens: 50,
        signal: new AbortController().signal,
      }),
    );
    await guard.close();
    const request = peer.requests.at(-1)!;
    assert.equal(request.authorization, 'Bearer sk-test-key');
    assert.equal(request.body.model, 'gpt-test');
    assert.equal(request.body.stream, true);
    assert.equal(request.body.temperature, 0.3);
    assert.equal(request.body.max_tokens, 50);
    assert.deepEqual(
      request.body.messages?.map((m) => m.role),
      ['system', 'user'],
    );
    const usage = chunks.at(-1);
    assert.deepEqual(usage, {
      type: 'usage',
      finishReason: 'stop',
      usage: { promptTokens: 4, completionTokens: 6, estimated: false },
    });
  });

  it('estimates usage when the provider reports none', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS, usage: false });
    const { provider, guard } = openAiProvider(peer);
    const chunks = await askHi(provider);
    await guard.close();
    const usage = chunks.at(-1);
    assert.ok(usage?.type === 'usage' && usage.usage.estimated && usage.usage.completionTokens > 0);
  });

  it('maps an error status to a ProviderError carrying it', async () => {
    peer.respond({ kind: 'status', status: 401 });
    const { provider, guard } = openAiProvider(peer);
    await assert.rejects(
      askHi(provider),
      (error) =>
        error instanceof ProviderError && error.kind === 'status' && error.status === 401 && !error.retryable,
    );
    await guard.close();
  });

  it('reports an answer that is no event stream (a web page) as a provider misconfiguration', async () => {
    peer.respond({ kind: 'page' });
    const { provider, guard } = openAiProvider(peer);
    await assert.rejects(
      askHi(provider),
      (error) => error instanceof ProviderError && error.kind === 'configuration' && !error.retryable,
    );
    await guard.close();
  });

  it('accepts a stream of chunks without text as an empty answer', async () => {
    peer.respond({ kind: 'reply', tokens: [] });
    const { provider, guard } = openAiProvider(peer);
    const chunks = await askHi(provider);
    await guard.close();
    assert.deepEqual(
      chunks.map((chunk) => chunk.type),
      ['usage'],
    );
  });

  it('refuses a loopback provider that is not allow-listed, at connect time', async () => {
    peer.respond({ kind: 'reply', tokens: TOKENS });
    const before = peer.requests.length;
    const { provider, guard } = openAiProvider(peer, []);
    await assert.rejects(
      askHi(provider),
      (error) => error instanceof ProviderError && error.kind === 'egress' && !error.retryable,
    );
    await guard.close();
    assert.equal(peer.requests.length, before, 'no request reached the server');
  });
});

describe('timeouts and retries', () => {
  let peer: OpenAiTestServer;
  before(async () => {
    peer = await OpenAiTestServer.start();
  });
  after(() => peer.close());

  function resilient(
    policy: { firstTokenTimeoutMs?: number; totalTimeoutMs?: number; retries?: number } = {},
  ) {
    const { provider, guard } = openAiProvider(peer);
    return {
      guard,
      provider: new ResilientProvider(provider, {
        firstTokenTimeoutMs: policy.firstTokenTimeoutMs ?? 2000,
        totalTimeoutMs: policy.totalTimeoutMs ?? 5000,
        retries: policy.retries ?? 2,
        backoffMs: () => 10,
      }),
    };
  }
  const ask = { model: 'm', messages: [{ role: 'user' as const, content: 'Hi' }] };

  it('retries a 500 and a 429 before any token, then streams', async () => {
    let calls = 0;
    peer.respond(() => {
      calls += 1;
      if (calls === 1) return { kind: 'status', status: 500 };
      if (calls === 2) return { kind: 'status', status: 429, retryAfterSeconds: 0 };
      return { kind: 'reply', tokens: TOKENS };
    });
    const { provider, guard } = resilient();
    const chunks = await collect(provider.stream({ ...ask, signal: new AbortController().signal }));
    await guard.close();
    assert.equal(calls, 3);
    assert.equal(chunks.filter((c) => c.type === 'delta').length, TOKENS.length);
  });

  it('gives up after the retries with the last status', async () => {
    let calls = 0;
    peer.respond(() => {
      calls += 1;
      return { kind: 'status', status: 503 };
    });
    const { provider, guard } = resilient({ retries: 2 });
    await assert.rejects(
      collect(provider.stream({ ...ask, signal: new AbortController().signal })),
      (error) => error instanceof ProviderError && error.status === 503,
    );
    await guard.close();
    assert.equal(calls, 3);
  });

  it('does not retry a 400', async () => {
    let calls = 0;
    peer.respond(() => {
      calls += 1;
      return { kind: 'status', status: 400 };
    });
    const { provider, guard } = resilient();
    await assert.rejects(collect(provider.stream({ ...ask, signal: new AbortController().signal })));
    await guard.close();
    assert.equal(calls, 1);
  });

  it('does not retry a provider that answers with a web page', async () => {
    let calls = 0;
    peer.respond(() => {
      calls += 1;
      return { kind: 'page' };
    });
    const { provider, guard } = resilient();
    await assert.rejects(
      collect(provider.stream({ ...ask, signal: new AbortController().signal })),
      (error) => error instanceof ProviderError && error.kind === 'configuration',
    );
    await guard.close();
    assert.equal(calls, 1);
  });

  it('times out a provider that never answers (first-token timeout), without retrying it', async () => {
    let calls = 0;
    peer.respond(() => {
      calls += 1;
      return { kind: 'hang' };
    });
    const { provider, guard } = resilient({ firstTokenTimeoutMs: 200 });
    const started = performance.now();
    await assert.rejects(
      collect(provider.stream({ ...ask, signal: new AbortController().signal })),
      (error) => error instanceof ProviderError && error.kind === 'timeout',
    );
    await guard.close();
    assert.ok(performance.now() - started < 1500);
    assert.equal(calls, 1);
  });

  it('times out a stream that stalls after its first tokens (total timeout)', async () => {
    peer.respond({ kind: 'stall', tokens: ['Half', ' a'] });
    const { provider, guard } = resilient({ firstTokenTimeoutMs: 200, totalTimeoutMs: 400 });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of provider.stream({ ...ask, signal: new AbortController().signal }))
          if (chunk.type === 'delta') seen.push(chunk.text);
      })(),
      (error) => error instanceof ProviderError && error.kind === 'timeout',
    );
    await guard.close();
    assert.deepEqual(seen, ['Half', ' a']);
  });

  it('a connection refused is retried, then reported as a connection error', async () => {
    const guard = new EgressGuard(new EgressPolicy(['127.0.0.1']));
    const dead = new ResilientProvider(
      new OpenAiProvider({
        baseUrl: 'http://127.0.0.1:9/v1',
        apiKey: 'k',
        fetch: guard.fetch,
        timeoutMs: 2000,
      }),
      { firstTokenTimeoutMs: 2000, totalTimeoutMs: 5000, retries: 1, backoffMs: () => 10 },
    );
    await assert.rejects(
      collect(dead.stream({ ...ask, signal: new AbortController().signal })),
      (error) => error instanceof ProviderError && error.kind === 'connection',
    );
    await guard.close();
  });
});

describe('knowledge provider', () => {
  it('says it does not know, and offers /human, below the threshold', async () => {
    const base = new KnowledgeBase(LIBRARY_DOCUMENTS);
    const provider = new KnowledgeProvider({ knowledgeOf: async () => ({ base, threshold: 0.55 }) });
    const chunks = await collect(
      provider.stream({
        model: 'b',
        messages: [{ role: 'user', content: 'capital of France?' }],
        signal: new AbortController().signal,
      }),
    );
    assert.equal(chunks[0]?.type, 'unanswered');
    const text = chunks.map((c) => (c.type === 'delta' ? c.text : '')).join('');
    assert.equal(text, UNKNOWN_ANSWER);
    assert.match(text, /\/human/);
  });
});
