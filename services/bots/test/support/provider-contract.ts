import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatProvider, CompletionChunk, CompletionRequest } from '../../src/providers/chat-provider.ts';
import { ProviderError } from '../../src/providers/provider-error.ts';

export interface ProviderFixture {
  provider: ChatProvider;
  /** A request the provider answers with a non-empty text of several deltas. */
  request: Omit<CompletionRequest, 'signal'>;
  /** The text it answers with, when the fixture knows it. */
  expectedText?: string;
  close(): Promise<void>;
}

export async function collect(stream: AsyncIterable<CompletionChunk>): Promise<CompletionChunk[]> {
  const chunks: CompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The LLM provider port's contract: every adapter (network or in-process) passes the same suite. */
export function runProviderContract(name: string, setup: () => Promise<ProviderFixture>): void {
  describe(`ChatProvider contract: ${name}`, () => {
    it('streams text deltas in order and ends with exactly one usage chunk', async () => {
      const fixture = await setup();
      try {
        const chunks = await collect(
          fixture.provider.stream({ ...fixture.request, signal: new AbortController().signal }),
        );
        const deltas = chunks.filter((chunk) => chunk.type === 'delta');
        assert.ok(deltas.length >= 2, 'several deltas');
        const text = deltas.map((chunk) => (chunk.type === 'delta' ? chunk.text : '')).join('');
        if (fixture.expectedText !== undefined) assert.equal(text, fixture.expectedText);
        const last = chunks.at(-1);
        assert.equal(last?.type, 'usage');
        assert.equal(chunks.filter((chunk) => chunk.type === 'usage').length, 1);
        if (last?.type === 'usage') {
          assert.ok(last.usage.promptTokens > 0);
          assert.ok(last.usage.completionTokens > 0);
        }
      } finally {
        await fixture.close();
      }
    });

    it('refuses to start with an aborted signal', async () => {
      const fixture = await setup();
      try {
        const control = new AbortController();
        control.abort();
        await assert.rejects(
          collect(fixture.provider.stream({ ...fixture.request, signal: control.signal })),
          (error) => {
            assert.ok(error instanceof ProviderError);
            assert.equal(error.kind, 'aborted');
            return true;
          },
        );
      } finally {
        await fixture.close();
      }
    });

    it('stops with an aborted error when cancelled mid-stream', async () => {
      const fixture = await setup();
      try {
        const control = new AbortController();
        const seen: string[] = [];
        await assert.rejects(
          (async () => {
            for await (const chunk of fixture.provider.stream({
              ...fixture.request,
              signal: control.signal,
            })) {
              if (chunk.type === 'delta') {
                seen.push(chunk.text);
                control.abort();
              }
            }
          })(),
          (error) => error instanceof ProviderError && error.kind === 'aborted',
        );
        assert.equal(seen.length, 1);
      } finally {
        await fixture.close();
      }
    });
  });
}
