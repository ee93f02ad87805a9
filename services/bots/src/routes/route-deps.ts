import type { Authenticator, Logger } from '@parley/kernel';
import type { BotService } from '../domain/bot-service.ts';
import type { CommandService } from '../domain/command-service.ts';
import type { KnowledgeService } from '../domain/knowledge-service.ts';
import type { CompletionService } from '../openai/completion-service.ts';

export interface RouteDeps {
  authenticator: Authenticator;
  bots: BotService;
  knowledge: KnowledgeService;
  commands: CommandService;
  completions: CompletionService;
  logger: Logger;
}
