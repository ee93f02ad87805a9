/** Socket-level failures: the dependency's host refused, reset or never answered the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say the database cannot serve now, not that the request was wrong: connection exceptions
 * (class 08), the server shutting down or starting (57P01-57P03), and its connection limit (53300). Matched
 * in the same walk as the socket codes: `sqlState` would take a socket code of five capitals (EPIPE) for one.
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/**
 * What drivers say, without a code, when their connection to the dependency broke or could not be made:
 * pg's pool and client; ioredis when its connection is closed, a command timed out, or it refuses commands
 * while disconnected (its spent retries are recognised by name).
 */
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Connection is closed\.$/,
  /^Command timed out$/,
  /^Stream isn't writeable and enableOfflineQueue options is false$/,
];

/**
 * Whether `error` (anywhere in its cause chain, or in an AggregateError's errors) is a backing service
 * (PostgreSQL, Redis, NATS, another Parley service) being unreachable, rather than a defect: a request
 * that meets one is answered 503 `unavailable` and may be retried, instead of 500.
 */
export function isDependencyOutage(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop();
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const { code, message, name, cause, errors } = current as {
      code?: unknown;
      message?: unknown;
      name?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
    if (name === 'MaxRetriesPerRequestError') return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.some((pattern) => pattern.test(message))) return true;
    pending.push(cause);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  return false;
}
