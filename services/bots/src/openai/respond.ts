import type { ChatCompletionResponse } from '@parley/contracts';
import type { Logger } from '@parley/kernel';
import type { FastifyReply } from 'fastify';
import type { CompletionChunk, FinishReason, TokenUsage } from '../providers/chat-provider.ts';
import { ProviderError } from '../providers/provider-error.ts';
import { type CompletionService, type PreparedCompletion, toHttpError } from './completion-service.ts';
import { CompletionEventStream, newCompletionId } from './sse.ts';

/** Aborts the provider call when the client goes away before the answer is complete. */
function abortOnDisconnect(reply: FastifyReply): AbortController {
  const control = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) control.abort();
  });
  return control;
}

/** `stream: false`: the whole answer as one `chat.completion` object. */
export async function respondJson(
  service: CompletionService,
  prepared: PreparedCompletion,
  reply: FastifyReply,
): Promise<ChatCompletionResponse> {
  const control = abortOnDisconnect(reply);
  let text = '';
  let usage: TokenUsage | undefined;
  let finishReason: FinishReason = 'stop';
  try {
    for await (const chunk of service.stream(prepared, control.signal)) {
      if (chunk.type === 'delta') text += chunk.text;
      else if (chunk.type === 'usage') {
        usage = chunk.usage;
        finishReason = chunk.finishReason ?? finishReason;
      }
    }
  } catch (error) {
    // Also a client that went away: the provider billed what it had generated until the abort.
    await service.settleFailed(prepared, usage, text);
    throw toHttpError(error);
  }
  const counted = await service.settle(prepared, usage, text);
  return {
    id: newCompletionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: prepared.bot.id,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finishReason }],
    usage: {
      prompt_tokens: counted.promptTokens,
      completion_tokens: counted.completionTokens,
      total_tokens: counted.promptTokens + counted.completionTokens,
    },
  };
}

/**
 * `stream: true`: server-sent events. The response starts only once the first token is in, so a provider
 * that fails outright still gets a proper problem+json status; a failure later ends the stream with an
 * OpenAI-style error event.
 */
export async function respondStreaming(
  service: CompletionService,
  prepared: PreparedCompletion,
  reply: FastifyReply,
  options: { includeUsage: boolean; logger: Logger },
): Promise<void> {
  const control = abortOnDisconnect(reply);
  const iterator = service.stream(prepared, control.signal)[Symbol.asyncIterator]();
  let text = '';
  let usage: TokenUsage | undefined;
  let finishReason: FinishReason = 'stop';
  let next: IteratorResult<CompletionChunk>;
  try {
    do next = await iterator.next();
    while (!next.done && next.value.type === 'unanswered');
  } catch (error) {
    await service.settleFailed(prepared, usage, text);
    throw toHttpError(error);
  }
  reply.hijack();
  const events = new CompletionEventStream(reply.raw, prepared.bot.id);
  events.open(reply.getHeaders());
  try {
    for (; !next.done; next = await iterator.next()) {
      const chunk = next.value;
      if (chunk.type === 'delta') {
        text += chunk.text;
        events.content(chunk.text);
      } else if (chunk.type === 'usage') {
        usage = chunk.usage;
        finishReason = chunk.finishReason ?? finishReason;
      }
    }
  } catch (error) {
    if (!(error instanceof ProviderError && error.kind === 'aborted')) {
      options.logger.warn(
        { botId: prepared.bot.id, kind: error instanceof ProviderError ? error.kind : 'unknown' },
        'completion stream failed',
      );
      const failure = toHttpError(error);
      events.fail(failure.code, failure.message);
    }
    await service.settleFailed(prepared, usage, text);
    return;
  }
  // The answer is out already: a metering failure is logged, and the stream still ends as it should.
  const counted = await service.settle(prepared, usage, text).catch((error: unknown) => {
    options.logger.warn({ err: error, botId: prepared.bot.id }, 'could not meter a streamed completion');
    return undefined;
  });
  events.finish(finishReason, options.includeUsage ? counted : undefined);
}
