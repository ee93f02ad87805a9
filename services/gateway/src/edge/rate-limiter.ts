import type { Cache } from '@parley/cache';

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
  exceeded: boolean;
}

/**
 * Fixed one-minute windows counted in the Cache (Redis when distributed, so every gateway shares them):
 * one atomic increment per request, the window starting with its first request.
 */
export class RateLimiter {
  constructor(
    private readonly cache: Cache,
    private readonly perMinute: number,
    private readonly windowMs = 60_000,
  ) {}

  async hit(subject: string): Promise<RateLimitState> {
    const { count, ttlMs } = await this.cache.increment(`ratelimit:${subject}`, this.windowMs);
    return {
      limit: this.perMinute,
      remaining: Math.max(0, this.perMinute - count),
      resetSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      exceeded: count > this.perMinute,
    };
  }
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
  };
}
