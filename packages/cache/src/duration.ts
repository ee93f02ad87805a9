/**
 * Both adapters reject the same durations: Redis only accepts positive integer milliseconds, and checking
 * here keeps the in-memory adapter from silently accepting what would fail in production.
 */
export function assertDuration(ms: number, name: string): void {
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new RangeError(`${name} must be a positive integer number of milliseconds (got ${ms})`);
  }
}

/** Counters move by positive whole steps in both adapters (Redis INCRBY takes integers only). */
export function assertAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new RangeError(`amount must be a positive integer (got ${amount})`);
  }
}
