import type { UsageRepository } from '../repositories/usage-repository.ts';
import type { PriceTable } from './price-table.ts';

export interface MeteredUsage {
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** The UTC day a usage counts for, as stored. */
export function usageDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}

/** Meters LLM tokens per user, bot, model and day, prices them, and answers the daily quota question. */
export class UsageMeter {
  constructor(
    private readonly usage: UsageRepository,
    private readonly prices: PriceTable,
    /** Tokens per user per UTC day; 0 means no limit. */
    private readonly dailyQuota: number,
  ) {}

  async hasQuotaLeft(userId: string): Promise<boolean> {
    if (this.dailyQuota === 0) return true;
    return (await this.usage.tokensOn(userId, usageDay())) < this.dailyQuota;
  }

  async record(entry: {
    userId: string;
    botId: string;
    model: string;
    promptTokens: number;
    completionTokens: number;
  }): Promise<MeteredUsage> {
    const costUsd = this.prices.costUsd(entry.model, entry.promptTokens, entry.completionTokens);
    await this.usage.add({ ...entry, day: usageDay(), costUsd });
    return { promptTokens: entry.promptTokens, completionTokens: entry.completionTokens, costUsd };
  }
}

export const QUOTA_NOTICE =
  "You've used today's allowance for AI replies. It renews at midnight UTC; until then you can type /human to reach a person.";
