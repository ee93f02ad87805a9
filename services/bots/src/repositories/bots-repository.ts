import type { Executor } from '@parley/store';
import { and, asc, eq, gt, ne, or, sql } from 'drizzle-orm';
import { bots } from '../schema/schema.ts';

export type BotRow = typeof bots.$inferSelect;
export type NewBotRow = typeof bots.$inferInsert;
export type BotPatch = Partial<
  Pick<BotRow, 'name' | 'description' | 'active' | 'support' | 'config' | 'apiKeySealed'>
>;

export interface BotListFilter {
  activeOnly: boolean;
  /** Keyset position: strictly after this (creation time, id). */
  after?: { at: Date; id: string } | undefined;
  limit: number;
}

export class BotsRepository {
  /** Every bot reply reads its bot: built once, not per call (see PreparedQuery for what that saves). */
  private readonly byId;

  constructor(private readonly db: Executor) {
    this.byId = db
      .select()
      .from(bots)
      .where(eq(bots.id, sql.placeholder('id')))
      .prepare('bots_by_id');
  }

  async insert(executor: Executor, row: NewBotRow): Promise<BotRow> {
    const [created] = await executor.insert(bots).values(row).returning();
    return created!;
  }

  /** Inserts unless a bot with this id exists (the default bot, created by whichever process starts first). */
  async insertIfAbsent(executor: Executor, row: NewBotRow): Promise<boolean> {
    const inserted = await executor.insert(bots).values(row).onConflictDoNothing().returning({ id: bots.id });
    return inserted.length > 0;
  }

  async findById(id: string, executor: Executor = this.db): Promise<BotRow | undefined> {
    const [row] =
      executor === this.db
        ? await this.byId.execute({ id })
        : await executor.select().from(bots).where(eq(bots.id, id));
    return row;
  }

  /** The bot with its row locked until the transaction ends. */
  async findForUpdate(executor: Executor, id: string): Promise<BotRow | undefined> {
    const [row] = await executor.select().from(bots).where(eq(bots.id, id)).for('update');
    return row;
  }

  /** OpenAI clients name a bot by id or by name (case-insensitive). */
  async findByIdOrName(key: string): Promise<BotRow | undefined> {
    const [row] = await this.db
      .select()
      .from(bots)
      .where(or(eq(bots.id, key), sql`lower(${bots.name}) = lower(${key})`))
      // A bot named like another's id: the id wins.
      .orderBy(sql`${bots.id} = ${key} desc`)
      .limit(1);
    return row;
  }

  async list(filter: BotListFilter): Promise<BotRow[]> {
    const conditions = [];
    if (filter.activeOnly) conditions.push(eq(bots.active, true));
    if (filter.after) {
      const { at, id } = filter.after;
      conditions.push(or(gt(bots.createdAt, at), and(eq(bots.createdAt, at), gt(bots.id, id))));
    }
    return this.db
      .select()
      .from(bots)
      .where(and(...conditions))
      .orderBy(asc(bots.createdAt), asc(bots.id))
      .limit(filter.limit);
  }

  async update(executor: Executor, id: string, patch: BotPatch): Promise<BotRow | undefined> {
    const [row] = await executor
      .update(bots)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(bots.id, id))
      .returning();
    return row;
  }

  /**
   * Takes the support role from whichever bot other than `exceptId` has it, returning those bots as they
   * are now. Two admins moving the role at once queue on a lock held until commit: the second then sees
   * (and clears) the first's choice instead of colliding with it in the unique index.
   */
  async takeSupportFromOthers(executor: Executor, exceptId: string): Promise<BotRow[]> {
    await executor.execute(sql`select pg_advisory_xact_lock(hashtext('parley.bots.support'))`);
    return executor
      .update(bots)
      .set({ support: false, updatedAt: new Date() })
      .where(and(eq(bots.support, true), ne(bots.id, exceptId)))
      .returning();
  }

  /** Marks the bot's knowledge as changed, so every process rebuilds its index on next use. */
  async bumpKnowledgeVersion(executor: Executor, id: string): Promise<void> {
    await executor
      .update(bots)
      .set({ knowledgeVersion: sql`${bots.knowledgeVersion} + 1`, updatedAt: new Date() })
      .where(eq(bots.id, id));
  }

  async delete(executor: Executor, id: string): Promise<boolean> {
    const deleted = await executor.delete(bots).where(eq(bots.id, id)).returning({ id: bots.id });
    return deleted.length > 0;
  }
}
