import type { TypedApp } from '@parley/kernel';
import { registerDeadLetterRoutes } from './dead-letter-routes.ts';
import { DeadLetters } from './dead-letters.ts';
import { type EventMetricsSource, registerEventMetrics } from './event-metrics.ts';

/**
 * What an operator gets of a service that consumes events: its event pipeline on /metrics and its dead
 * letters behind the internal API. Returns the service's dead letters, for its consumers to record in and
 * be replayed through.
 */
export function installEventOperations(
  app: TypedApp,
  options: EventMetricsSource & { internalToken: string },
): DeadLetters {
  registerEventMetrics(app.metrics.registry, options);
  const deadLetters = new DeadLetters(options.database, options.tables.deadLetters);
  registerDeadLetterRoutes(app, {
    service: options.service,
    deadLetters,
    internalToken: options.internalToken,
  });
  return deadLetters;
}
