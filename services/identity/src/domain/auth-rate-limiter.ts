import type { Cache } from '@parley/cache';
import { AppError } from '@parley/kernel';
import { hashSecret } from './secrets.ts';

export type AuthAction = 'login' | 'register' | 'forgot_password' | 'verify_email_resend';

export interface RateState {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

const WINDOW_MS = 60_000;
/** Verification mails one account may ask for again per window: each one lands in someone's inbox. */
const RESEND_LIMIT = 3;
const RESEND_WINDOW_MS = 15 * 60_000;
/** Failed logins of one account are remembered this long. */
const FAILURE_WINDOW_MS = 15 * 60_000;
/** The longest an account waits between attempts: an attacker can slow the real user, not lock them out. */
const MAX_DELAY_MS = 5 * 60_000;

export function rateLimitHeaders(state: RateState): Record<string, string> {
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
  };
}

function tooMany(state: RateState, detail: string): AppError {
  return new AppError(429, 'rate_limited', detail, {
    headers: { 'retry-after': String(Math.max(1, state.resetSeconds)), ...rateLimitHeaders(state) },
  });
}

/**
 * Limits for login, register and forgot-password, held in the Cache so every process counts together:
 * a fixed window per IP and per account, and for login a rising delay per account after repeated
 * failures (1 s, 2 s, 4 s, ... capped at 5 minutes) instead of a long hard lockout.
 */
export class AuthRateLimiter {
  constructor(
    private readonly cache: Cache,
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one attempt from `ip` and throws 429 past the limit; returns the window's state for headers. */
  hitIp(action: AuthAction, ip: string): Promise<RateState> {
    return this.hit(`rl:auth:${action}:ip:${ip}`, 'Too many attempts from your network; try again shortly.');
  }

  hitAccount(action: AuthAction, email: string): Promise<RateState> {
    return this.hit(
      `rl:auth:${action}:acct:${hashSecret(email)}`,
      'Too many attempts for this account; try again shortly.',
    );
  }

  /** Counts one verification-mail resend of the account and throws 429 past a few per quarter hour. */
  hitResend(userId: string): Promise<RateState> {
    return this.hit(
      `rl:auth:verify_email_resend:acct:${hashSecret(userId)}`,
      'Verification mails were sent several times already; try again later.',
      RESEND_LIMIT,
      RESEND_WINDOW_MS,
    );
  }

  /** 429 while the account is in its post-failure delay. */
  async assertLoginAllowed(email: string): Promise<void> {
    const until = Number(await this.cache.get(this.gateKey(email)));
    const waitMs = until - this.now();
    if (until > 0 && waitMs > 0) {
      const resetSeconds = Math.ceil(waitMs / 1000);
      throw tooMany(
        { limit: this.limit, remaining: 0, resetSeconds },
        'Too many failed sign-ins for this account; wait a moment before trying again.',
      );
    }
  }

  async recordLoginFailure(email: string): Promise<void> {
    const { count } = await this.cache.increment(this.failureKey(email), FAILURE_WINDOW_MS);
    if (count < this.limit) return;
    const delayMs = Math.min(MAX_DELAY_MS, 1000 * 2 ** (count - this.limit));
    await this.cache.set(this.gateKey(email), String(this.now() + delayMs), delayMs);
  }

  async recordLoginSuccess(email: string): Promise<void> {
    await this.cache.delete(this.failureKey(email));
  }

  private async hit(
    key: string,
    detail: string,
    limit = this.limit,
    windowMs = WINDOW_MS,
  ): Promise<RateState> {
    const { count, ttlMs } = await this.cache.increment(key, windowMs);
    const state = {
      limit,
      remaining: Math.max(0, limit - count),
      resetSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
    };
    if (count > limit) throw tooMany(state, detail);
    return state;
  }

  private failureKey(email: string): string {
    return `rl:auth:login-failures:${hashSecret(email)}`;
  }

  private gateKey(email: string): string {
    return `rl:auth:login-gate:${hashSecret(email)}`;
  }
}
