import type { Logger } from '@parley/kernel';
import { DEFAULT_CONFIDENCE_THRESHOLD, KnowledgeBase } from '../knowledge/knowledge-base.ts';
import type { KnowledgeSource } from '../providers/knowledge-provider.ts';
import type { BotsRepository } from '../repositories/bots-repository.ts';
import type { KnowledgeRepository } from '../repositories/knowledge-repository.ts';

interface Cached {
  version: number;
  base: KnowledgeBase;
}

const CAPACITY = 200;

/**
 * Each bot's knowledge, indexed once per version and kept in memory (bounded, least recently used out).
 * The version on the bot row moves with every document change, so every process notices a change on the
 * next question without any cross-process signalling.
 */
export class KnowledgeIndex implements KnowledgeSource {
  private readonly cache = new Map<string, Cached>();
  private readonly building = new Map<string, Promise<Cached>>();

  constructor(
    private readonly bots: BotsRepository,
    private readonly knowledge: KnowledgeRepository,
    private readonly logger: Logger,
  ) {}

  async knowledgeOf(botId: string): Promise<{ base: KnowledgeBase; threshold: number } | null> {
    const bot = await this.bots.findById(botId);
    if (!bot) return null;
    const base = await this.baseOf(botId, bot.knowledgeVersion);
    return { base, threshold: bot.config.threshold ?? DEFAULT_CONFIDENCE_THRESHOLD };
  }

  async baseOf(botId: string, version: number): Promise<KnowledgeBase> {
    const cached = this.cache.get(botId);
    if (cached && cached.version === version) {
      this.cache.delete(botId);
      this.cache.set(botId, cached);
      return cached.base;
    }
    const key = `${botId}@${version}`;
    let pending = this.building.get(key);
    if (!pending) {
      pending = this.build(botId, version).finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    return (await pending).base;
  }

  private async build(botId: string, version: number): Promise<Cached> {
    const started = performance.now();
    const documents = await this.knowledge.all(botId);
    const entry = { version, base: await KnowledgeBase.build(documents) };
    // Builds yield to the event loop, so an older version's may finish after a newer one's: never over it.
    if ((this.cache.get(botId)?.version ?? Number.NEGATIVE_INFINITY) > version) return entry;
    this.cache.delete(botId);
    this.cache.set(botId, entry);
    while (this.cache.size > CAPACITY) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.logger.debug(
      { botId, version, passages: entry.base.passageCount, ms: Math.round(performance.now() - started) },
      'knowledge indexed',
    );
    return entry;
  }
}
