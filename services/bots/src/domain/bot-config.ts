import type { BotConfigInput, BotKind } from '@parley/contracts';
import { AppError, type FieldProblem } from '@parley/kernel';
import type { StoredBotConfig } from '../schema/schema.ts';

/** Settings that only mean something to a bot calling an LLM. */
const LLM_ONLY = [
  'baseUrl',
  'model',
  'apiKey',
  'systemPrompt',
  'temperature',
  'maxTokens',
  'contextMessages',
] as const;

export interface ConfigChange {
  config: StoredBotConfig;
  /** undefined: keep the stored key; null: remove it; a string: seal and store it. */
  apiKey: string | null | undefined;
}

/**
 * Merges a create/patch body into the stored settings and checks them against the bot's kind. A `null`
 * clears a value; absent fields keep theirs.
 */
export function mergeConfig(
  kind: BotKind,
  current: StoredBotConfig,
  input: BotConfigInput | undefined,
): ConfigChange {
  const problems: FieldProblem[] = [];
  const next: StoredBotConfig = { ...current };
  let apiKey: string | null | undefined;
  for (const [field, value] of Object.entries(input ?? {}) as [keyof BotConfigInput, unknown][]) {
    if (kind === 'faq' && (LLM_ONLY as readonly string[]).includes(field)) {
      problems.push({ path: `config.${field}`, message: 'only applies to llm bots' });
      continue;
    }
    if (field === 'apiKey') {
      apiKey = value as string | null;
      continue;
    }
    if (value === null) delete next[field];
    else Object.assign(next, { [field]: value });
  }
  if (kind === 'llm' && !next.model)
    problems.push({ path: 'config.model', message: 'is required for llm bots' });
  if (next.baseUrl !== undefined) next.baseUrl = next.baseUrl.replace(/\/+$/, '');
  if (problems.length > 0) {
    throw new AppError(400, 'validation_failed', 'The bot settings are not valid.', { errors: problems });
  }
  return { config: next, apiKey };
}
