import type { Bot, BotConfigView, BotSnapshot } from '@parley/contracts';
import type { BotRow } from '../repositories/bots-repository.ts';

/** A bot as the API shows it: the key never, the provider settings and prompt to admins only. */
export function toBotView(row: BotRow, forAdmin: boolean): Bot {
  const config: BotConfigView = forAdmin ? { ...row.config, hasApiKey: row.apiKeySealed !== null } : {};
  return {
    ...toBotSnapshot(row),
    config,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** What other services may know of a bot (its events); the API view adds settings and times. */
export function toBotSnapshot(row: BotRow): BotSnapshot {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    kind: row.kind,
    active: row.active,
    support: row.support,
  };
}
