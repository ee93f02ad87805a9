import type { CacheLogger } from './logger.ts';

/**
 * Calls one subscriber without letting it hurt the others: a throw (or a rejected promise from an async
 * handler) is logged instead of escaping into the delivery loop or becoming an unhandled rejection.
 */
export function deliver(
  handler: (message: string) => void,
  message: string,
  channel: string,
  logger: CacheLogger,
): void {
  const report = (error: unknown) => logger.error({ err: error, channel }, 'cache subscriber failed');
  try {
    const result: unknown = handler(message);
    if (result instanceof Promise) result.catch(report);
  } catch (error) {
    report(error);
  }
}
