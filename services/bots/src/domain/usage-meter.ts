import { newId } from '@parley/kernel';
import { type ChatTurn, estimatePromptTokens } from '../providers/chat-provider.ts';
import type { UsageRepository } from '../repositories/usage-repository.ts';
import type { PriceTable } from './price-table.ts';

export interface MeteredUsage {
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** What one provider call used, as it is metered. */
export interface CallUsage {
  botId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Completion tokens reserved for a call that sets no max tokens: more than chat replies usually take, and
 * about where many models cap their output by default. A longer reply is still metered in full; only the
 * quota's bound on calls running side by side is looser by what it took beyond this.
 */
export const DEFAULT_COMPLETION_ALLOWANCE = 4096;

/** What a provider call reserves before it is made: its prompt as estimated, plus the most it may answer. */
export function tokensToReserve(messages: readonly ChatTurn[], maxTokens: number | undefined): number {
  return estimatePromptTokens(messages) + (maxTokens ?? DEFAULT_COMPLETION_ALLOWANCE);
}

/** The UTC day a usage counts for, as stored. */
export function usageDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}

export interface UsageMeterOptions {
  /** Tokens per user per UTC day; 0 means no limit. */
  dailyQuota: number;
  /**
   * How long a reservation counts when it is neither settled nor released (its process died): longer than
   * any provider call may take, so a live one never lapses.
   */
  reservationMs: number;
}

/**
 * Meters LLM tokens per user, bot, model and day, prices them, and keeps users within their daily quota.
 * A call reserves its estimated tokens before it asks the provider, so calls running side by side (several
 * conversations, parallel API requests, several processes) see each other: a call is admitted while the
 * day's usage and the reservations under way stay below the quota, which bounds the day's total to the
 * quota plus about one call. The reservation then becomes the call's actual usage.
 */
export class UsageMeter {
  constructor(
    private readonly usage: UsageRepository,
    private readonly prices: PriceTable,
    private readonly options: UsageMeterOptions,
  ) {}

  /**
   * Sets `tokens` aside for a call the user is about to make; undefined when today's allowance is used up
   * or already reserved by calls under way. Without a quota nothing is written until the call is settled.
   */
  async reserve(userId: string, tokens: number): Promise<QuotaReservation | undefined> {
    if (this.options.dailyQuota === 0) return new QuotaReservation(this, userId, undefined);
    const id = newId('qres');
    const reserved = await this.usage.reserve({
      id,
      userId,
      day: usageDay(),
      tokens,
      quota: this.options.dailyQuota,
      lifetimeMs: this.options.reservationMs,
    });
    return reserved ? new QuotaReservation(this, userId, id) : undefined;
  }

  /** Records a call's usage in place of its reservation (see QuotaReservation.settle). */
  async settle(userId: string, reservationId: string | undefined, used: CallUsage): Promise<MeteredUsage> {
    const costUsd = this.prices.costUsd(used.model, used.promptTokens, used.completionTokens);
    const entry = { ...used, userId, day: usageDay(), costUsd };
    if (reservationId === undefined) await this.usage.add(entry);
    else await this.usage.settle(reservationId, entry);
    return { promptTokens: used.promptTokens, completionTokens: used.completionTokens, costUsd };
  }

  async release(reservationId: string | undefined): Promise<void> {
    if (reservationId !== undefined) await this.usage.release(reservationId);
  }
}

/**
 * One call's tokens set aside against its user's quota: settled with what the call used when it ends
 * (however it ends), or released when no call is made after all. A reservation left behind by a process
 * that died lapses on its own.
 */
export class QuotaReservation {
  private open = true;

  constructor(
    private readonly meter: UsageMeter,
    private readonly userId: string,
    /** Undefined without a quota: nothing was reserved, settling only records the usage. */
    private readonly id: string | undefined,
  ) {}

  async settle(used: CallUsage): Promise<MeteredUsage> {
    if (!this.open) throw new Error('the quota reservation was settled or released already');
    this.open = false;
    return this.meter.settle(this.userId, this.id, used);
  }

  /** Gives the tokens back unused; nothing once the reservation was settled or released. */
  async release(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.meter.release(this.id);
  }
}

export const QUOTA_NOTICE =
  "You've used today's allowance for AI replies. It renews at midnight UTC; until then you can type /human to reach a person.";
