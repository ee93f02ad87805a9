/**
 * Both adapters reject the same durations: Redis only accepts positive integer milliseconds, and checking
 * here keeps the in-memory adapter from silently accepting what would fail in production.
 */
export function assertDuration(ms: number, name: string): void {
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new RangeError(`${name} must be a positive integer number of milliseconds (got ${ms})`);
  }
}
