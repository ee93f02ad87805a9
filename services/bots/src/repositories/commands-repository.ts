import type { Executor } from '@parley/store';
import { and, asc, eq } from 'drizzle-orm';
import { commands } from '../schema/schema.ts';

export type CommandRow = typeof commands.$inferSelect;

export class CommandsRepository {
  constructor(private readonly db: Executor) {}

  /** False when the bot already has a command of that name. */
  async insert(row: typeof commands.$inferInsert): Promise<CommandRow | undefined> {
    const [created] = await this.db.insert(commands).values(row).onConflictDoNothing().returning();
    return created;
  }

  async list(botId: string): Promise<CommandRow[]> {
    return this.db.select().from(commands).where(eq(commands.botId, botId)).orderBy(asc(commands.name));
  }

  async find(botId: string, name: string): Promise<CommandRow | undefined> {
    const [row] = await this.db
      .select()
      .from(commands)
      .where(and(eq(commands.botId, botId), eq(commands.name, name)));
    return row;
  }

  async delete(botId: string, name: string): Promise<boolean> {
    const deleted = await this.db
      .delete(commands)
      .where(and(eq(commands.botId, botId), eq(commands.name, name)))
      .returning({ name: commands.name });
    return deleted.length > 0;
  }
}
