import { BotsEvents } from '@parley/contracts';
import { createEvent, newId } from '@parley/kernel';
import type { Outbox } from '@parley/store';
import { splitPassages } from '../knowledge/passages.ts';
import type { BotsRepository } from '../repositories/bots-repository.ts';
import type { KnowledgeRepository } from '../repositories/knowledge-repository.ts';
import type { SeedsRepository } from '../repositories/seeds-repository.ts';
import {
  DEFAULT_BOT_DESCRIPTION,
  DEFAULT_BOT_ID,
  DEFAULT_BOT_NAME,
  DEFAULT_KNOWLEDGE,
} from './default-bot.ts';

const SEED = 'default-bot:v1';

/**
 * Creates Parley Assistant with its knowledge on the first start, once: the seed mark and the bot commit
 * together, so an admin who deletes or renames it later does not find it back after a restart, and two
 * processes starting together create it once (the mark's primary key settles the race).
 */
export async function seedDefaultBot(deps: {
  outbox: Outbox;
  bots: BotsRepository;
  knowledge: KnowledgeRepository;
  seeds: SeedsRepository;
}): Promise<boolean> {
  return deps.outbox.transaction(async (tx) => {
    if (!(await deps.seeds.mark(tx, SEED))) return false;
    const created = await deps.bots.insertIfAbsent(tx, {
      id: DEFAULT_BOT_ID,
      name: DEFAULT_BOT_NAME,
      description: DEFAULT_BOT_DESCRIPTION,
      kind: 'faq',
      active: true,
      config: {},
      knowledgeVersion: 1,
    });
    if (!created) return false;
    const bot = {
      id: DEFAULT_BOT_ID,
      name: DEFAULT_BOT_NAME,
      description: DEFAULT_BOT_DESCRIPTION,
      kind: 'faq',
      active: true,
      support: false,
    };
    await deps.outbox.add(
      tx,
      createEvent(BotsEvents.botCreated, { bot }, { actor: { type: 'system', id: 'bots' } }),
    );
    for (const document of DEFAULT_KNOWLEDGE) {
      const id = newId('kdoc');
      await deps.knowledge.insert(tx, {
        id,
        botId: DEFAULT_BOT_ID,
        title: document.title,
        content: document.content,
        passages: splitPassages({ id, ...document }).length,
      });
    }
    return true;
  });
}
