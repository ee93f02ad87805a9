import type { Bus, Subscription } from '@parley/bus';
import { type BotDeletedData, type BotEventData, BotsEvents } from '@parley/contracts';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { type Database, type DeadLetters, subscribeIdempotent, type Tx } from '@parley/store';
import type { BotDirectoryRepository } from '../repositories/bot-directory-repository.ts';
import { processedEvents } from '../schema/schema.ts';

export const BOTS_CONSUMER_GROUP = 'chat.bots';

/** Keeps chat's bot directory in step with the bots service, exactly once per event. */
export function consumeBotEvents(options: {
  bus: Bus;
  database: Database;
  directory: BotDirectoryRepository;
  deadLetters: DeadLetters;
  logger: Logger;
}): Promise<Subscription> {
  const { directory } = options;
  return subscribeIdempotent({
    bus: options.bus,
    database: options.database,
    tables: { processedEvents },
    group: BOTS_CONSUMER_GROUP,
    subjects: ['bots.bot.>'],
    logger: options.logger,
    deadLetters: options.deadLetters,
    handle: async (tx: Tx, event: EventEnvelope) => {
      const at = new Date(event.occurredAt);
      switch (event.type) {
        case BotsEvents.botCreated:
        case BotsEvents.botUpdated: {
          const { bot } = event.data as BotEventData;
          // Events from before bots had the support role carry no such field: not the support bot.
          const facts = { id: bot.id, active: bot.active, support: bot.support === true, deleted: false };
          await directory.apply(tx, facts, at);
          return;
        }
        case BotsEvents.botDeleted: {
          const { botId } = event.data as BotDeletedData;
          await directory.apply(tx, { id: botId, active: false, support: false, deleted: true }, at);
          return;
        }
      }
    },
  });
}
