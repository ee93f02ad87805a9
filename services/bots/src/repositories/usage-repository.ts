import type { Executor } from '@parley/store';
import { and, eq, sql } from 'drizzle-orm';
import { usage } from '../schema/schema.ts';

export interface UsageEntry {
  day: string;
  userId: string;
  botId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export type UsageRow = typeof usage.$inferSelect;

export class UsageRepository {
  constructor(private readonly db: Executor) {}

  /** Adds one request's tokens to the day's row (created on first use). */
  async add(entry: UsageEntry): Promise<void> {
    await this.db
      .insert(usage)
      .values({ ...entry, requests: 1 })
      .onConflictDoUpdate({
        target: [usage.day, usage.userId, usage.botId, usage.model],
        set: {
          requests: sql`${usage.requests} + 1`,
          promptTokens: sql`${usage.promptTokens} + excluded.prompt_tokens`,
          completionTokens: sql`${usage.completionTokens} + excluded.completion_tokens`,
          costUsd: sql`${usage.costUsd} + excluded.cost_usd`,
        },
      });
  }

  /** Tokens (prompt and completion) the user spent on the given UTC day, across bots and models. */
  async tokensOn(userId: string, day: string): Promise<number> {
    const [row] = await this.db
      .select({ total: sql<string | number | null>`sum(${usage.promptTokens} + ${usage.completionTokens})` })
      .from(usage)
      .where(and(eq(usage.userId, userId), eq(usage.day, day)));
    return Number(row?.total ?? 0);
  }

  async forUser(userId: string): Promise<UsageRow[]> {
    return this.db.select().from(usage).where(eq(usage.userId, userId));
  }
}
