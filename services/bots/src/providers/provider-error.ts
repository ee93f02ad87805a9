import { EgressDeniedError } from '../egress/egress-policy.ts';

export type ProviderErrorKind =
  /** Could not connect, or the connection broke. */
  | 'connection'
  /** The provider answered with an HTTP error status. */
  | 'status'
  /** No first token in time, or the whole reply took too long. */
  | 'timeout'
  /** The egress policy refused the provider's address. */
  | 'egress'
  /** The caller cancelled (conversation closed or handed off, client gone). */
  | 'aborted'
  /** No provider is configured (no base URL or key anywhere), or it answered nonsense. */
  | 'configuration';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ProviderError';
  }

  get status(): number | undefined {
    return this.options.status;
  }

  /** Worth another attempt before any token arrived: connection failures, 429 and 5xx. */
  get retryable(): boolean {
    if (this.kind === 'connection') return true;
    const status = this.options.status;
    return this.kind === 'status' && status !== undefined && (status === 429 || status >= 500);
  }
}

/** Finds an egress refusal anywhere in an error's cause chain (fetch wraps connector errors twice). */
export function egressRefusalIn(error: unknown): EgressDeniedError | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof EgressDeniedError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
