import type { EventEnvelope, Logger } from '@parley/kernel';
import { DEFAULT_MAX_DELIVER, defaultBackoffMs, type SubscriptionOptions } from './bus.ts';
import { assertSubjectPattern } from './subjects.ts';

/** A subscription's options with defaults applied, validated once for both adapters. */
export interface SubscriptionSettings {
  group: string;
  /** Distinct patterns: a repeated one would otherwise pull the same events twice. */
  subjects: string[];
  handler: SubscriptionOptions['handler'];
  maxDeliver: number;
  backoffMs: (attempt: number) => number;
  /** Never throws: a failing dead-letter sink must not stall the subscription behind one event. */
  deadLetter: (event: EventEnvelope, error: unknown, attempts: number) => Promise<void>;
}

export function resolveSubscription(options: SubscriptionOptions, logger: Logger): SubscriptionSettings {
  if (options.group.trim() === '') throw new Error('Subscription group must not be empty');
  if (options.subjects.length === 0) throw new Error('Subscription needs at least one subject');
  for (const subject of options.subjects) assertSubjectPattern(subject);
  const maxDeliver = options.maxDeliver ?? DEFAULT_MAX_DELIVER;
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1) {
    throw new Error(`maxDeliver must be a positive integer, got ${maxDeliver}`);
  }
  const { group, onDeadLetter } = options;
  return {
    group,
    subjects: [...new Set(options.subjects)],
    handler: options.handler,
    maxDeliver,
    backoffMs: guardBackoff(options.backoffMs ?? defaultBackoffMs),
    deadLetter: async (event, error, attempts) => {
      const context = { group, eventId: event.id, eventType: event.type, attempts, err: error };
      // Logged whatever the sink: an operator watching the logs hears of every event given up on.
      logger.error(context, 'event dead-lettered');
      if (!onDeadLetter) return;
      try {
        await onDeadLetter(event, error, attempts);
      } catch (sinkError) {
        logger.error({ ...context, deadLetterError: sinkError }, 'dead-letter handler failed; event dropped');
      }
    },
  };
}

/**
 * A delivery past `maxDeliver` has no handler error to report: the deliveries before it failed, or ended with
 * no result at all (a subscriber that stopped or died while the event was its own, or a lowered limit).
 */
export function pastMaxDeliverError(attempt: number, maxDeliver: number): Error {
  return new Error(
    `delivery ${attempt} is past maxDeliver ${maxDeliver}: earlier deliveries failed or ended without a result`,
  );
}

/** A broken backoff function must not kill the consumer loop that called it on a handler failure. */
function guardBackoff(backoffMs: (attempt: number) => number): (attempt: number) => number {
  return (attempt) => {
    try {
      const delay = backoffMs(attempt);
      if (Number.isFinite(delay) && delay >= 0) return delay;
    } catch {
      // Falls through to the default, like an out-of-range delay.
    }
    return defaultBackoffMs(attempt);
  };
}
