import type { Logger } from '@parley/kernel';
import { type ChatClient, ChatRefusedError } from '../chat/chat-client.ts';
import type { BotRow } from '../repositories/bots-repository.ts';
import type { CommandsRepository } from '../repositories/commands-repository.ts';
import type { TranscriptRepository } from '../repositories/transcript-repository.ts';
import type { CancellationRegistry } from './cancellation.ts';
import { type ParsedCommand, renderTemplate } from './commands.ts';
import { helpText, NOTICES } from './notices.ts';
import type { ReplyJob } from './reply-job.ts';
import { type ReplyResult, simpleResult } from './reply-outcome.ts';
import type { ReplyPoster } from './reply-poster.ts';

/** `/help`, `/reset`, `/human`, the bot's custom commands, and plain-language handoff requests. */
export class CommandHandler {
  constructor(
    private readonly deps: {
      chat: ChatClient;
      commands: CommandsRepository;
      transcript: TranscriptRepository;
      poster: ReplyPoster;
      cancellation: CancellationRegistry;
      logger: Logger;
    },
  ) {}

  async run(job: ReplyJob, bot: BotRow, command: ParsedCommand): Promise<ReplyResult> {
    switch (command.name) {
      case 'help': {
        const custom = await this.deps.commands.list(bot.id);
        return this.reply(job, helpText(bot.name, custom), 'command');
      }
      case 'reset': {
        await this.deps.transcript.reset(job.conversationId, job.triggerSeq);
        const posted = await this.deps.poster.post(job, NOTICES.reset);
        // The confirmation itself is not context either.
        if (posted) await this.deps.transcript.reset(job.conversationId, posted.seq);
        return simpleResult('command', posted?.id ?? null);
      }
      case 'human':
        return this.handOff(job);
      default: {
        const custom = await this.deps.commands.find(bot.id, command.name);
        const body = custom
          ? renderTemplate(custom.reply, { botName: bot.name, args: command.args, userId: job.userId })
          : NOTICES.unknownCommand(command.name);
        return this.reply(job, body, 'command');
      }
    }
  }

  /**
   * Hands the conversation to people: chat makes it `pending` and `handledBy: human` (from then on the
   * consumer leaves it alone until it is resolved), and the user is told.
   */
  async handOff(job: ReplyJob): Promise<ReplyResult> {
    // Told first: once people handle the conversation, chat takes no more bot messages in it. A
    // conversation closed meanwhile refuses the notice, and the handoff below with it.
    const posted = await this.deps.poster.post(job, NOTICES.handoff);
    try {
      await this.deps.chat.updateConversation(job.conversationId, { status: 'pending', handledBy: 'human' });
    } catch (error) {
      if (!(error instanceof ChatRefusedError)) throw error;
      this.deps.logger.info(
        { conversationId: job.conversationId, code: error.code },
        'handoff refused by chat',
      );
    }
    // Replies to what the user wrote meanwhile, queued here or in another process, are not given.
    await this.deps.cancellation.cancel(job.conversationId);
    return simpleResult('handoff', posted?.id ?? null);
  }

  private async reply(job: ReplyJob, body: string, outcome: 'command' | 'handoff'): Promise<ReplyResult> {
    const posted = await this.deps.poster.post(job, body);
    return simpleResult(outcome, posted?.id ?? null);
  }
}
