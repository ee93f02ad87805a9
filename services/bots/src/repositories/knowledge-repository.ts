import type { Executor } from '@parley/store';
import { and, asc, eq, gt, or } from 'drizzle-orm';
import { knowledgeDocuments } from '../schema/schema.ts';

export type KnowledgeRow = typeof knowledgeDocuments.$inferSelect;
export type NewKnowledgeRow = typeof knowledgeDocuments.$inferInsert;

export class KnowledgeRepository {
  constructor(private readonly db: Executor) {}

  async insert(executor: Executor, row: NewKnowledgeRow): Promise<KnowledgeRow> {
    const [created] = await executor.insert(knowledgeDocuments).values(row).returning();
    return created!;
  }

  async page(
    botId: string,
    after: { at: Date; id: string } | undefined,
    limit: number,
  ): Promise<KnowledgeRow[]> {
    const position = after
      ? or(
          gt(knowledgeDocuments.createdAt, after.at),
          and(eq(knowledgeDocuments.createdAt, after.at), gt(knowledgeDocuments.id, after.id)),
        )
      : undefined;
    return this.db
      .select()
      .from(knowledgeDocuments)
      .where(and(eq(knowledgeDocuments.botId, botId), position))
      .orderBy(asc(knowledgeDocuments.createdAt), asc(knowledgeDocuments.id))
      .limit(limit);
  }

  /** Every document of a bot: what its retrieval index is built from. */
  async all(botId: string): Promise<Pick<KnowledgeRow, 'id' | 'title' | 'content'>[]> {
    return this.db
      .select({
        id: knowledgeDocuments.id,
        title: knowledgeDocuments.title,
        content: knowledgeDocuments.content,
      })
      .from(knowledgeDocuments)
      .where(eq(knowledgeDocuments.botId, botId))
      .orderBy(asc(knowledgeDocuments.createdAt), asc(knowledgeDocuments.id));
  }

  async delete(executor: Executor, botId: string, id: string): Promise<boolean> {
    const deleted = await executor
      .delete(knowledgeDocuments)
      .where(and(eq(knowledgeDocuments.botId, botId), eq(knowledgeDocuments.id, id)))
      .returning({ id: knowledgeDocuments.id });
    return deleted.length > 0;
  }
}
