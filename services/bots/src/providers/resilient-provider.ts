import type { ChatProvider, CompletionChunk, CompletionRequest } from './chat-provider.ts';
import { ProviderError } from './provider-error.ts';

export interface ResiliencePolicy {
  /** No first token this long after an attempt starts: the attempt fails with a `timeout`. */
  firstTokenTimeoutMs: number;
  /** The whole reply, retries included, takes no longer than this. */
  totalTimeoutMs: number;
  /** Extra attempts after the first, for connection errors and 429/5xx before any token. */
  retries: number;
  /** Delay before retry n (1-based), before jitter; a provider's Retry-After wins when longer (capped). */
  backoffMs: (retry: number) => number;
}

export const DEFAULT_RESILIENCE: Omit<ResiliencePolicy, 'firstTokenTimeoutMs' | 'totalTimeoutMs'> = {
  retries: 2,
  backoffMs: (retry) => 250 * 2 ** (retry - 1),
};

const MAX_RETRY_AFTER_MS = 10_000;

/**
 * Wraps a provider with timeouts and careful retries. Once a token has been streamed nothing is retried:
 * the user has seen it, and a second attempt would say something else.
 */
export class ResilientProvider implements ChatProvider {
  constructor(
    private readonly inner: ChatProvider,
    private readonly policy: ResiliencePolicy,
  ) {}

  async *stream(request: CompletionRequest): AsyncIterable<CompletionChunk> {
    const total = new AbortController();
    const onCallerAbort = () => total.abort(new ProviderError('aborted', 'The request was cancelled.'));
    if (request.signal.aborted) onCallerAbort();
    request.signal.addEventListener('abort', onCallerAbort, { once: true });
    const totalTimer = setTimeout(
      () =>
        total.abort(
          new ProviderError('timeout', `The reply took longer than ${this.policy.totalTimeoutMs} ms.`),
        ),
      this.policy.totalTimeoutMs,
    );
    try {
      for (let attempt = 0; ; attempt++) {
        const attemptControl = new AbortController();
        const forward = () => attemptControl.abort(total.signal.reason);
        if (total.signal.aborted) forward();
        total.signal.addEventListener('abort', forward, { once: true });
        const firstTokenTimer = setTimeout(
          () =>
            attemptControl.abort(
              new ProviderError('timeout', `No first token within ${this.policy.firstTokenTimeoutMs} ms.`),
            ),
          this.policy.firstTokenTimeoutMs,
        );
        let streamed = false;
        try {
          for await (const chunk of this.inner.stream({ ...request, signal: attemptControl.signal })) {
            if (attemptControl.signal.aborted) throw reasonOf(attemptControl.signal);
            if (!streamed && chunk.type === 'delta') {
              streamed = true;
              clearTimeout(firstTokenTimer);
            }
            yield chunk;
          }
          if (attemptControl.signal.aborted) throw reasonOf(attemptControl.signal);
          return;
        } catch (error) {
          const failure = attemptControl.signal.aborted
            ? reasonOf(attemptControl.signal)
            : asProviderError(error);
          if (streamed || !failure.retryable || attempt >= this.policy.retries) throw failure;
          await sleep(this.delay(attempt + 1, failure), total.signal);
        } finally {
          clearTimeout(firstTokenTimer);
          total.signal.removeEventListener('abort', forward);
        }
      }
    } finally {
      clearTimeout(totalTimer);
      request.signal.removeEventListener('abort', onCallerAbort);
    }
  }

  private delay(retry: number, failure: ProviderError): number {
    const backoff = this.policy.backoffMs(retry) * (0.75 + Math.random() * 0.5);
    const asked = Math.min(failure.options.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
    return Math.max(backoff, asked);
  }
}

function reasonOf(signal: AbortSignal): ProviderError {
  const reason: unknown = signal.reason;
  return reason instanceof ProviderError
    ? reason
    : new ProviderError('aborted', 'The request was cancelled.');
}

function asProviderError(error: unknown): ProviderError {
  return error instanceof ProviderError
    ? error
    : new ProviderError('connection', 'The provider failed.', { cause: error });
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(reasonOf(signal));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(reasonOf(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
