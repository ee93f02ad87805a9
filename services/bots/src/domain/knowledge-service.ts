import type { AddKnowledgeBody, KnowledgeDocument, ListKnowledgeQuery } from '@parley/contracts';
import { newId, notFound } from '@parley/kernel';
import type { Outbox } from '@parley/store';
import { splitPassages } from '../knowledge/passages.ts';
import type { BotsRepository } from '../repositories/bots-repository.ts';
import type { KnowledgeRepository, KnowledgeRow } from '../repositories/knowledge-repository.ts';
import type { BotLookup } from './bot-lookup.ts';
import { decodeCursor, type Page, toPage } from './cursor.ts';

function toDocument(row: KnowledgeRow): KnowledgeDocument {
  return {
    id: row.id,
    botId: row.botId,
    title: row.title,
    content: row.content,
    passages: row.passages,
    createdAt: row.createdAt.toISOString(),
  };
}

/** A bot's knowledge documents; every change bumps the bot's knowledge version in the same transaction. */
export class KnowledgeService {
  constructor(
    private readonly outbox: Outbox,
    private readonly bots: BotsRepository,
    private readonly knowledge: KnowledgeRepository,
    /** Told when a bot's knowledge version moved, so replies stop answering from the old one. */
    private readonly lookup: BotLookup,
  ) {}

  async add(botId: string, body: AddKnowledgeBody): Promise<KnowledgeDocument> {
    await this.requireBot(botId);
    const id = newId('kdoc');
    const passages = splitPassages({ id, title: body.title, content: body.content }).length;
    const row = await this.outbox.transaction(async (tx) => {
      const created = await this.knowledge.insert(tx, {
        id,
        botId,
        title: body.title,
        content: body.content,
        passages,
      });
      await this.bots.bumpKnowledgeVersion(tx, botId);
      return created;
    });
    await this.lookup.changed([botId]);
    return toDocument(row);
  }

  async list(botId: string, query: ListKnowledgeQuery): Promise<Page<KnowledgeDocument>> {
    await this.requireBot(botId);
    const limit = query.limit ?? 20;
    const rows = await this.knowledge.page(botId, decodeCursor(query.cursor), limit + 1);
    return toPage(rows, limit, toDocument);
  }

  async remove(botId: string, documentId: string): Promise<void> {
    await this.requireBot(botId);
    const removed = await this.outbox.transaction(async (tx) => {
      const gone = await this.knowledge.delete(tx, botId, documentId);
      if (gone) await this.bots.bumpKnowledgeVersion(tx, botId);
      return gone;
    });
    if (!removed) throw notFound('There is no such document.');
    await this.lookup.changed([botId]);
  }

  private async requireBot(botId: string): Promise<void> {
    if (!(await this.bots.findById(botId))) throw notFound('There is no such bot.');
  }
}
