import type { Ack, ClientToServerEvents } from '@parley/contracts';
import { holdsAtMost, type Logger, toAppError } from '@parley/kernel';
import type { ChatMetrics } from '../ops/chat-metrics.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** What a compiled TypeBox validator offers that a handler needs. */
export interface PayloadValidator<P> {
  Check(value: unknown): value is P;
  Errors(value: unknown): { instancePath: string; message: string }[];
}

type Reply = (result: Ack<object>) => void;

/**
 * The largest payload whose problem is looked for and named. TypeBox's Errors, unlike Check, takes time
 * that grows faster than the payload (an array of 80,000 bad attachment ids, 160 KB, held the process for
 * 48 s), and no well-meant event comes near this; a larger one is told only that it is not valid.
 */
const DESCRIBED_MAX_VALUES = 500;

function problemOf(validator: PayloadValidator<unknown>, payload: unknown): string {
  if (!holdsAtMost(payload, DESCRIBED_MAX_VALUES)) return 'The payload is not valid.';
  const [first] = validator.Errors(payload);
  const where = first?.instancePath ? `${first.instancePath}: ` : '';
  return `The payload is not valid. ${where}${first?.message ?? ''}`.trim();
}

export interface EventHandlerContext {
  limiter: RateLimiter;
  logger: Logger;
  /** Every ack is counted by event and outcome (`ok` or its error code). */
  metrics: ChatMetrics;
}

/**
 * Wraps one client event: rate limit, schema check (a compiled TypeBox validator), the domain call, and an
 * ack either way, counted. Nothing a client sends can throw out of here, so a bad payload never costs the
 * socket.
 */
export function eventHandler<P, R extends object>(
  event: keyof ClientToServerEvents,
  validator: PayloadValidator<P>,
  context: EventHandlerContext,
  run: (payload: P) => Promise<R>,
): (...args: unknown[]) => void {
  // The common outcome's counter found once per handler, not once per event.
  const succeeded = context.metrics.socketEventCounter(event, 'ok');
  return (...args: unknown[]) => {
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as Reply) : undefined;
    const payload = ack ? args.slice(0, -1)[0] : args[0];
    if (!context.limiter.take()) {
      answer(event, context, succeeded, ack, RATE_LIMITED);
      return;
    }
    if (!validator.Check(payload)) {
      answer(event, context, succeeded, ack, failure('validation_failed', problemOf(validator, payload)));
      return;
    }
    run(payload).then(
      (result) => answer(event, context, succeeded, ack, { ok: true, ...result }),
      (error: unknown) => {
        const appError = toAppError(error);
        if (appError.status >= 500) context.logger.error({ err: error }, 'socket event failed');
        answer(event, context, succeeded, ack, failure(appError.code, appError.message));
      },
    );
  };
}

/**
 * Counts an ack and sends it. A module function, not a closure per event (tsx names each named closure it
 * makes, through defineProperty: 0.8% of the chat process's CPU under sustained sends) nor per handler (one
 * per socket and event kind: 1.25 KiB more per idle connection).
 */
function answer(
  event: keyof ClientToServerEvents,
  context: EventHandlerContext,
  succeeded: { inc(): void },
  ack: Reply | undefined,
  result: Ack<object>,
): void {
  if (result.ok) succeeded.inc();
  else context.metrics.socketEventCounter(event, result.error.code).inc();
  ack?.(result);
}

export function failure(code: string, message: string): Ack<object> {
  return { ok: false, error: { code, message } };
}

export const RATE_LIMITED = failure('rate_limited', 'Too many events from this connection; slow down.');
