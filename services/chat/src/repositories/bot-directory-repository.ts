import type { Executor } from '@parley/store';
import { and, desc, eq, sql } from 'drizzle-orm';
import { bots } from '../schema/schema.ts';

export interface BotFacts {
  id: string;
  active: boolean;
  support: boolean;
  deleted: boolean;
}

/** Chat's directory of bots (schema.ts `bots`): only what chat decides with. */
export class BotDirectoryRepository {
  constructor(private readonly db: Executor) {}

  /** Records what an event says of a bot, unless a later event already said more. */
  async apply(executor: Executor, facts: BotFacts, changedAt: Date): Promise<void> {
    await executor
      .insert(bots)
      .values({ ...facts, changedAt })
      .onConflictDoUpdate({
        target: bots.id,
        set: {
          active: sql`excluded.active`,
          support: sql`excluded.support`,
          deleted: sql`excluded.deleted`,
          changedAt: sql`excluded.changed_at`,
        },
        setWhere: sql`${bots.changedAt} <= excluded.changed_at`,
      });
  }

  /** What the directory knows of one bot; undefined when no event about it has arrived yet. */
  async find(botId: string): Promise<BotFacts | undefined> {
    const [row] = await this.db
      .select({ id: bots.id, active: bots.active, support: bots.support, deleted: bots.deleted })
      .from(bots)
      .where(eq(bots.id, botId))
      .limit(1);
    return row;
  }

  /**
   * The active support bot. The bots service lets one bot have the role at a time; while the events of a
   * move are on their way, two may have it here, and the later choice wins.
   */
  async supportBotId(): Promise<string | undefined> {
    const [row] = await this.db
      .select({ id: bots.id })
      .from(bots)
      .where(and(eq(bots.support, true), eq(bots.active, true), eq(bots.deleted, false)))
      .orderBy(desc(bots.changedAt))
      .limit(1);
    return row?.id;
  }
}
