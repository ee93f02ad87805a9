export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial request; doubles after each failed trial. */
  openMs: number;
  /** Ceiling of the doubling. */
  maxOpenMs?: number;
  now?: () => number;
}

/**
 * One upstream's breaker: closed while requests succeed; open (no traffic) after `failureThreshold`
 * consecutive failures; after `openMs` half open, letting exactly one trial through whose outcome closes or
 * re-opens it. A trial that never reports back (its client vanished) frees the slot after `openMs`.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private openFor: number;
  private trialStartedAt: number | undefined;
  private readonly now: () => number;
  private readonly maxOpenMs: number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
    this.openFor = options.openMs;
    this.maxOpenMs = options.maxOpenMs ?? options.openMs * 8;
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.openFor) return 'half_open';
    return this.current;
  }

  /** Whether a request could be sent now, without claiming anything (for picking among nodes). */
  canAttempt(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return this.trialStartedAt === undefined || this.now() - this.trialStartedAt >= this.options.openMs;
  }

  /** Claims the right to send one request; in half-open state only the first caller gets it. */
  tryAcquire(): boolean {
    if (!this.canAttempt()) return false;
    if (this.state === 'half_open') {
      this.current = 'half_open';
      this.trialStartedAt = this.now();
    }
    return true;
  }

  onSuccess(): void {
    this.failures = 0;
    if (this.current !== 'closed') {
      this.current = 'closed';
      this.openFor = this.options.openMs;
      this.trialStartedAt = undefined;
    }
  }

  onFailure(): void {
    this.failures++;
    if (this.current === 'half_open') {
      this.openFor = Math.min(this.openFor * 2, this.maxOpenMs);
      this.open();
    } else if (this.current === 'closed' && this.failures >= this.options.failureThreshold) {
      this.open();
    }
  }

  private open(): void {
    this.current = 'open';
    this.openedAt = this.now();
    this.trialStartedAt = undefined;
  }
}
