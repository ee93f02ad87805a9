import type { BotCommand, CreateCommandBody } from '@parley/contracts';
import { conflict, notFound } from '@parley/kernel';
import type { BotsRepository } from '../repositories/bots-repository.ts';
import type { CommandRow, CommandsRepository } from '../repositories/commands-repository.ts';

/** Commands every bot has; custom commands cannot take these names. */
export const BUILT_IN_COMMANDS = ['help', 'reset', 'human'] as const;

export function toCommand(row: CommandRow): BotCommand {
  return {
    botId: row.botId,
    name: row.name,
    description: row.description,
    reply: row.reply,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Admin-defined slash commands with templated replies. */
export class CommandService {
  constructor(
    private readonly bots: BotsRepository,
    private readonly commands: CommandsRepository,
  ) {}

  async create(botId: string, body: CreateCommandBody): Promise<BotCommand> {
    await this.requireBot(botId);
    if ((BUILT_IN_COMMANDS as readonly string[]).includes(body.name)) {
      throw conflict(`/${body.name} is built in and cannot be redefined.`, 'reserved_command');
    }
    const row = await this.commands.insert({
      botId,
      name: body.name,
      description: body.description ?? '',
      reply: body.reply,
    });
    if (!row) throw conflict(`The bot already has a /${body.name} command.`, 'command_exists');
    return toCommand(row);
  }

  async list(botId: string): Promise<BotCommand[]> {
    await this.requireBot(botId);
    return (await this.commands.list(botId)).map(toCommand);
  }

  async remove(botId: string, name: string): Promise<void> {
    await this.requireBot(botId);
    if (!(await this.commands.delete(botId, name))) throw notFound('There is no such command.');
  }

  private async requireBot(botId: string): Promise<void> {
    if (!(await this.bots.findById(botId))) throw notFound('There is no such bot.');
  }
}
