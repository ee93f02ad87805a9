import type { Cache } from '@parley/cache';

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
  exceeded: boolean;
}

export interface RateLimiterOptions {
  windowMs?: number;
  /** How long counts may stay local before they are added to the shared window. */
  flushIntervalMs?: number;
  /** Told when counts could not be added to the shared window (they are kept and tried again). */
  onFlushFailure?: (error: unknown) => void;
}

/** One subject's window as this process sees it. */
interface LocalWindow {
  /** The shared count at the last answer from the cache (every process's requests). */
  shared: number;
  /** Requests counted here and not yet added to the shared count. */
  pending: number;
  /** Local clock time at which the shared window ends. */
  endsAt: number;
}

/**
 * Fixed one-minute windows shared in the Cache (Redis when distributed, so every gateway counts against
 * the same window), the window starting with its subject's first request.
 *
 * A request does not wait for the cache while its subject is far from the limit: it is counted here and
 * the counts are added to the shared window every `flushIntervalMs` in one increment per subject. A
 * subject's first request of a window, and every request in the last tenth of the limit, go to the cache
 * before they are answered, so the limit is exact for one gateway and, with several, can only be
 * overshot by what the others counted locally during one flush interval.
 */
export class RateLimiter {
  private readonly windowMs: number;
  private readonly flushIntervalMs: number;
  /** Below this many remaining requests, every request is counted in the cache first. */
  private readonly exactBelow: number;
  private readonly windows = new Map<string, LocalWindow>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private flushFailing = false;

  constructor(
    private readonly cache: Cache,
    private readonly perMinute: number,
    private readonly options: RateLimiterOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.exactBelow = Math.ceil(perMinute / 10);
  }

  async hit(subject: string): Promise<RateLimitState> {
    const key = `ratelimit:${subject}`;
    const now = Date.now();
    const window = this.windows.get(key);
    if (!window || now >= window.endsAt) return this.countShared(key, 1, now);
    const estimate = window.shared + window.pending + 1;
    if (this.perMinute - estimate < this.exactBelow) {
      const amount = window.pending + 1;
      window.pending = 0;
      return this.countShared(key, amount, now);
    }
    window.pending++;
    this.scheduleFlush();
    return this.state(estimate, window.endsAt - now);
  }

  /** Adds what is still counted only here to the shared windows; for shutdown. */
  async close(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushing;
    await this.flush();
  }

  private async countShared(key: string, amount: number, now: number): Promise<RateLimitState> {
    const { count, ttlMs } = await this.cache.increment(key, this.windowMs, amount);
    const known = this.windows.get(key);
    if (known && known.endsAt > now) {
      // Answers to concurrent increments arrive in any order: the largest count is the latest.
      known.shared = Math.max(known.shared, count);
    } else {
      this.windows.set(key, { shared: count, pending: 0, endsAt: now + ttlMs });
    }
    return this.state(count, ttlMs);
  }

  private state(count: number, ttlMs: number): RateLimitState {
    return {
      limit: this.perMinute,
      remaining: Math.max(0, this.perMinute - count),
      resetSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      exceeded: count > this.perMinute,
    };
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
      });
    }, this.flushIntervalMs);
    this.flushTimer.unref();
  }

  private async flush(): Promise<void> {
    const now = Date.now();
    const sending: Array<Promise<void>> = [];
    for (const [key, window] of this.windows) {
      // An ended window's counts belong to no current window; dropping it also bounds the map.
      if (now >= window.endsAt) {
        this.windows.delete(key);
        continue;
      }
      if (window.pending === 0) continue;
      const amount = window.pending;
      window.pending = 0;
      sending.push(this.addToShared(key, window, amount));
    }
    await Promise.all(sending);
  }

  private async addToShared(key: string, window: LocalWindow, amount: number): Promise<void> {
    try {
      const { count } = await this.cache.increment(key, this.windowMs, amount);
      window.shared = Math.max(window.shared, count);
      this.flushFailing = false;
    } catch (error) {
      window.pending += amount;
      this.scheduleFlush();
      // Told once per outage, not on every retry.
      if (!this.flushFailing) this.options.onFlushFailure?.(error);
      this.flushFailing = true;
    }
  }
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
  };
}
