import OpenAI from 'openai';
import {
  type ChatProvider,
  type CompletionChunk,
  type CompletionRequest,
  estimatePromptTokens,
  estimateTokens,
  type FinishReason,
} from './chat-provider.ts';
import { egressRefusalIn, ProviderError } from './provider-error.ts';

export interface OpenAiProviderOptions {
  baseUrl: string;
  apiKey: string;
  /** The egress-guarded fetch: every connection the SDK opens goes through it. */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Upper bound for one request in the SDK; the caller's own timeouts are usually shorter. */
  timeoutMs: number;
}

/**
 * Any OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, llama.cpp, ...) through the official
 * SDK. The SDK's own retries are off: ResilientProvider retries only what is safe to retry.
 */
export class OpenAiProvider implements ChatProvider {
  private readonly client: OpenAI;

  constructor(options: OpenAiProviderOptions) {
    this.client = new OpenAI({
      baseURL: options.baseUrl,
      apiKey: options.apiKey,
      fetch: options.fetch,
      maxRetries: 0,
      timeout: options.timeoutMs,
    });
  }

  async *stream(request: CompletionRequest): AsyncIterable<CompletionChunk> {
    let completionText = '';
    let reported: { prompt: number; completion: number } | undefined;
    let finishReason: FinishReason | undefined;
    let chunkCount = 0;
    try {
      const stream = await this.client.chat.completions.create(
        {
          model: request.model,
          messages: request.messages,
          stream: true,
          stream_options: { include_usage: true },
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
          ...(request.stop !== undefined && request.stop.length > 0 ? { stop: request.stop } : {}),
        },
        { signal: request.signal },
      );
      for await (const chunk of stream) {
        // Chunks already buffered keep coming after an abort; the caller asked for none of them.
        if (request.signal.aborted) throw request.signal.reason;
        chunkCount += 1;
        const text = chunk.choices[0]?.delta?.content;
        if (text) {
          completionText += text;
          yield { type: 'delta', text };
        }
        if (chunk.usage) reported = reportedCounts(chunk.usage) ?? reported;
        finishReason = finishReasonOf(chunk.choices[0]?.finish_reason) ?? finishReason;
      }
      if (request.signal.aborted) throw request.signal.reason;
      // A body that is no event stream (a web page at a wrong base URL) reads as one without events: no
      // completion at all, where a real answer, even an empty one, has at least its role or finish chunk.
      if (chunkCount === 0) {
        throw new ProviderError('configuration', 'The provider answered with no completion chunk.');
      }
    } catch (error) {
      throw toProviderError(error, request.signal);
    }
    yield {
      type: 'usage',
      ...(finishReason !== undefined ? { finishReason } : {}),
      usage: reported
        ? { promptTokens: reported.prompt, completionTokens: reported.completion, estimated: false }
        : {
            promptTokens: estimatePromptTokens(request.messages),
            completionTokens: estimateTokens(completionText),
            estimated: true,
          },
    };
  }
}

/**
 * The provider's own token counts, when they are counts: servers that merely speak OpenAI's protocol send
 * fractions, negatives, numbers past any column, strings, nulls or nothing. Such a report is no report (the
 * counts are estimated instead), never a metering failure that would lose the answer it came with.
 */
function reportedCounts(usage: unknown): { prompt: number; completion: number } | undefined {
  const { prompt_tokens: prompt, completion_tokens: completion } = usage as Record<string, unknown>;
  return isTokenCount(prompt) && isTokenCount(completion) ? { prompt, completion } : undefined;
}

/**
 * The provider's reason when it is one a client can act on; anything else (`tool_calls`, a server's own
 * word, nothing) is no reason, and the answer counts as finished.
 */
function finishReasonOf(reason: unknown): FinishReason | undefined {
  return reason === 'length' || reason === 'content_filter' || reason === 'stop' ? reason : undefined;
}

function isTokenCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function toProviderError(error: unknown, signal: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof ProviderError
      ? reason
      : new ProviderError('aborted', 'The request was cancelled.');
  }
  const refusal = egressRefusalIn(error);
  if (refusal) return new ProviderError('egress', refusal.message, { cause: refusal });
  if (error instanceof OpenAI.APIUserAbortError)
    return new ProviderError('aborted', 'The request was cancelled.');
  if (error instanceof OpenAI.APIConnectionError) {
    return new ProviderError('connection', 'Could not reach the provider.', { cause: error });
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const retryAfter = Number(error.headers?.get('retry-after'));
    return new ProviderError('status', `The provider answered ${error.status}.`, {
      status: error.status,
      cause: error,
      ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    });
  }
  // A connection that broke mid-stream surfaces as a plain error from the body reader.
  return new ProviderError('connection', 'The provider connection failed.', { cause: error });
}
