import type { ChatCompletionRequest, OpenAiChatMessage, OpenAiModelList } from '@parley/contracts';
import { AppError, badRequest, type Logger, type Principal } from '@parley/kernel';
import type { KnowledgeIndex } from '../domain/knowledge-index.ts';
import { type QuotaReservation, tokensToReserve, type UsageMeter } from '../domain/usage-meter.ts';
import { DEFAULT_CONFIDENCE_THRESHOLD } from '../knowledge/knowledge-base.ts';
import type { PersonalContext } from '../personalization/personal-context.ts';
import {
  billedUsage,
  type ChatTurn,
  type CompletionChunk,
  type TokenUsage,
} from '../providers/chat-provider.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { BotProvider, ProviderFactory } from '../providers/provider-factory.ts';
import { defaultSystemPrompt, systemMessage } from '../replies/prompt-builder.ts';
import type { BotRow, BotsRepository } from '../repositories/bots-repository.ts';

export interface CompletionServiceDeps {
  bots: BotsRepository;
  providers: ProviderFactory;
  knowledge: KnowledgeIndex;
  personal: PersonalContext;
  usage: UsageMeter;
  logger: Logger;
}

/**
 * A request checked and turned into a provider call, ready to stream. Its tokens are reserved against the
 * caller's quota (undefined for a provider that is not metered) until {@link CompletionService.settle}.
 */
export interface PreparedCompletion {
  principal: Principal;
  bot: BotRow;
  chosen: BotProvider;
  messages: ChatTurn[];
  temperature: number | undefined;
  maxTokens: number | undefined;
  /** The client's stop sequences, for the provider to honour. */
  stop: string[] | undefined;
  reservation: QuotaReservation | undefined;
}

const MODELS_LISTED = 500;

/** OpenAI's chat-completions semantics over Parley bots: `model` names a bot, the bot's provider answers. */
export class CompletionService {
  constructor(private readonly deps: CompletionServiceDeps) {}

  async models(): Promise<OpenAiModelList> {
    const rows = await this.deps.bots.list({ activeOnly: true, limit: MODELS_LISTED });
    return {
      object: 'list',
      data: rows.map((row) => ({
        id: row.id,
        object: 'model' as const,
        created: Math.floor(row.createdAt.getTime() / 1000),
        owned_by: 'parley',
        name: row.name,
        description: row.description,
        kind: row.kind,
      })),
    };
  }

  async prepare(principal: Principal, body: ChatCompletionRequest): Promise<PreparedCompletion> {
    const bot = await this.deps.bots.findByIdOrName(body.model);
    if (!bot?.active) {
      throw new AppError(404, 'model_not_found', `There is no bot called "${body.model}".`);
    }
    const turns = body.messages.map(toTurn);
    const question = [...turns].reverse().find((turn) => turn.role === 'user')?.content;
    if (question === undefined) {
      throw badRequest('The messages need at least one user message.', [
        { path: 'body.messages', message: 'has no user message' },
      ]);
    }
    let chosen: BotProvider;
    try {
      chosen = await this.deps.providers.forBot(bot);
    } catch (error) {
      throw toHttpError(error);
    }
    const system = bot.kind === 'llm' ? await this.systemTurn(principal, bot, question) : undefined;
    const messages = system ? [system, ...turns] : turns;
    const requested = body.max_tokens ?? body.max_completion_tokens ?? undefined;
    const limit = bot.config.maxTokens;
    const maxTokens =
      requested !== undefined && limit !== undefined ? Math.min(requested, limit) : (requested ?? limit);
    // Reserved last, once the prompt it is estimated from is known: nothing after it can fail.
    const reservation = chosen.metered
      ? await this.deps.usage.reserve(principal.userId, tokensToReserve(messages, maxTokens))
      : undefined;
    if (chosen.metered && !reservation) {
      throw new AppError(
        429,
        'quota_exceeded',
        "Today's token allowance is used up; it renews at midnight UTC.",
        {
          headers: { 'retry-after': String(secondsToMidnightUtc()) },
        },
      );
    }
    return {
      principal,
      bot,
      chosen,
      messages,
      temperature: body.temperature ?? bot.config.temperature,
      maxTokens,
      stop: stopSequences(body.stop),
      reservation,
    };
  }

  stream(prepared: PreparedCompletion, signal: AbortSignal): AsyncIterable<CompletionChunk> {
    return prepared.chosen.provider.stream({
      model: prepared.chosen.model,
      messages: prepared.messages,
      temperature: prepared.temperature,
      maxTokens: prepared.maxTokens,
      stop: prepared.stop,
      signal,
    });
  }

  /**
   * Settles the call's reservation with what the provider billed (its own count, or an estimate from the
   * prompt and `text` when the call broke off without one) and returns the counts to report. Every call
   * ends here, answered, failed or abandoned by its client, the same way a conversation's reply is metered.
   */
  async settle(
    prepared: PreparedCompletion,
    usage: TokenUsage | undefined,
    text: string,
  ): Promise<TokenUsage> {
    const billed = billedUsage(prepared.messages, usage, text);
    if (!billed) {
      await prepared.reservation?.release();
      return { promptTokens: 0, completionTokens: 0, estimated: false };
    }
    await prepared.reservation?.settle({
      botId: prepared.bot.id,
      model: prepared.chosen.model,
      promptTokens: billed.promptTokens,
      completionTokens: billed.completionTokens,
    });
    return billed;
  }

  /** {@link settle} for a call that failed: a metering failure is logged, not answered instead of it. */
  async settleFailed(
    prepared: PreparedCompletion,
    usage: TokenUsage | undefined,
    text: string,
  ): Promise<void> {
    await this.settle(prepared, usage, text).catch((error: unknown) =>
      this.deps.logger.warn({ err: error, botId: prepared.bot.id }, 'could not meter a failed completion'),
    );
  }

  private async systemTurn(principal: Principal, bot: BotRow, question: string): Promise<ChatTurn> {
    const [base, facts] = await Promise.all([
      this.deps.knowledge.baseOf(bot.id, bot.knowledgeVersion),
      this.deps.personal.factsAbout(principal.userId).catch(() => []),
    ]);
    const passages = base.context(question, 3, (bot.config.threshold ?? DEFAULT_CONFIDENCE_THRESHOLD) / 2);
    return {
      role: 'system',
      content: systemMessage(bot.config.systemPrompt ?? defaultSystemPrompt(bot.name), passages, facts),
    };
  }
}

/** `stop` as a list, empty sequences left out (a model would stop before its first token). */
function stopSequences(stop: ChatCompletionRequest['stop']): string[] | undefined {
  const sequences = (typeof stop === 'string' ? [stop] : (stop ?? [])).filter((sequence) => sequence !== '');
  return sequences.length > 0 ? sequences : undefined;
}

function toTurn(message: OpenAiChatMessage): ChatTurn {
  const content =
    typeof message.content === 'string'
      ? message.content
      : (message.content ?? []).map((part) => part.text).join('');
  return { role: message.role === 'developer' ? 'system' : message.role, content };
}

/** A provider failure before anything was sent, as the HTTP error the caller gets. */
export function toHttpError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ProviderError) {
    switch (error.kind) {
      case 'timeout':
        return new AppError(504, 'provider_timeout', 'The bot did not answer in time.');
      case 'configuration':
        return new AppError(
          503,
          'provider_unavailable',
          'The bot is not set up to answer: its provider is missing or misconfigured.',
        );
      case 'aborted':
        return new AppError(499, 'client_closed', 'The request was cancelled.');
      default:
        return new AppError(502, 'provider_error', 'The bot could not get an answer from its provider.');
    }
  }
  return new AppError(502, 'provider_error', 'The bot could not get an answer from its provider.', {
    cause: error,
  });
}

function secondsToMidnightUtc(now = new Date()): number {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((midnight - now.getTime()) / 1000));
}
