import { BotsEvents, type ReplyCompletedData } from '@parley/contracts';
import { createEvent, type Logger } from '@parley/kernel';
import type { Outbox } from '@parley/store';
import type { BotLookup } from '../domain/bot-lookup.ts';
import type { KnowledgeIndex } from '../domain/knowledge-index.ts';
import {
  QUOTA_NOTICE,
  type QuotaReservation,
  tokensToReserve,
  type UsageMeter,
} from '../domain/usage-meter.ts';
import { DEFAULT_CONFIDENCE_THRESHOLD } from '../knowledge/knowledge-base.ts';
import type { BotsMetrics } from '../ops/bots-metrics.ts';
import type { PersonalContext } from '../personalization/personal-context.ts';
import type { ChatTurn } from '../providers/chat-provider.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { BotProvider, ProviderFactory } from '../providers/provider-factory.ts';
import type { BotRow } from '../repositories/bots-repository.ts';
import type { RepliesRepository } from '../repositories/replies-repository.ts';
import type { TranscriptRepository } from '../repositories/transcript-repository.ts';
import type { CancellationRegistry } from './cancellation.ts';
import type { CommandHandler } from './command-handler.ts';
import { parseCommand, wantsHuman } from './commands.ts';
import { NOTICES } from './notices.ts';
import { postedOutcome } from './posted-outcome.ts';
import {
  DEFAULT_CONTEXT_MESSAGES,
  defaultSystemPrompt,
  historyTurns,
  systemMessage,
} from './prompt-builder.ts';
import { ProviderCall } from './provider-call.ts';
import type { Preparation, ReplyJob } from './reply-job.ts';
import { type ReplyResult, simpleResult } from './reply-outcome.ts';
import type { ReplyPoster } from './reply-poster.ts';
import { type StreamReplyDeps, streamReply } from './stream-reply.ts';

export interface ReplyRunnerDeps extends StreamReplyDeps {
  outbox: Outbox;
  /** The bot each reply answers as: remembered for a second, forgotten on every change. */
  lookup: BotLookup;
  /** Stops the provider calls replies start (replies/provider-call.ts). */
  cancellation: CancellationRegistry;
  replies: RepliesRepository;
  transcript: TranscriptRepository;
  knowledge: KnowledgeIndex;
  providers: ProviderFactory;
  personal: PersonalContext;
  commands: CommandHandler;
  poster: ReplyPoster;
  usage: UsageMeter;
  metrics: BotsMetrics;
  logger: Logger;
}

/** Passages an LLM prompt gets at most. */
const PROMPT_PASSAGES = 3;

/** Answers one claimed user message, records how it ended and announces it, in one transaction. */
export class ReplyRunner {
  constructor(private readonly deps: ReplyRunnerDeps) {}

  async run(job: ReplyJob): Promise<void> {
    const started = Date.now();
    await this.finish(job, await this.answer(job), started);
  }

  /** A reply that failed on every process that tried it: the user gets a notice, never silence. */
  async giveUp(job: ReplyJob): Promise<void> {
    const started = Date.now();
    const posted = await this.deps.poster.post(job, NOTICES.failed);
    await this.finish(job, simpleResult('failed', posted?.id ?? null), started);
  }

  private async finish(job: ReplyJob, result: ReplyResult, started: number): Promise<void> {
    const durationMs = Math.max(0, Date.now() - started);
    const data: ReplyCompletedData = {
      botId: job.botId,
      conversationId: job.conversationId,
      userId: job.userId,
      triggerMessageId: job.triggerMessageId,
      ...result,
      durationMs,
    };
    await this.deps.outbox.transaction(async (tx) => {
      await this.deps.replies.complete(tx, job.triggerMessageId, result.outcome, result.replyMessageId);
      await this.deps.outbox.add(
        tx,
        createEvent(BotsEvents.replyCompleted, data, { actor: { type: 'bot', id: job.botId } }),
      );
    });
    // Counted once recorded: a reply whose record fails is run again, and counted then.
    this.deps.metrics.replyFinished(result, durationMs);
  }

  /**
   * Everything answering `job` needs to know, read without saying anything, so it may run before the reply
   * is claimed; for a provider answer, the call is asked for too (its chunks wait until the reply runs).
   * What it commits to is that call and its quota reservation: a preparation that is thrown away (another
   * process claimed the reply) must go through {@link discard}.
   */
  async prepare(job: ReplyJob): Promise<Preparation> {
    const [bot, question] = await Promise.all([
      this.deps.lookup.find(job.botId),
      job.body ?? this.deps.transcript.find(job.conversationId, job.triggerSeq).then((row) => row?.body),
    ]);
    // A handoff needs nothing of the bot, and a bot deleted or switched off since tells the user to ask
    // for one (NOTICES.unavailable): refusing it there too would leave them no way to reach a person.
    const command = question === undefined ? null : parseCommand(question);
    const handoff = command ? command.name === 'human' : question !== undefined && wantsHuman(question);
    if (handoff) return { kind: 'handoff' };
    // A bot deleted or switched off since; or a taken-over reply whose question aged out of the transcript.
    if (!bot?.active) return { kind: 'notice', notice: NOTICES.unavailable };
    if (question === undefined) return { kind: 'notice', notice: NOTICES.failed };
    if (command) return { kind: 'command', bot, command };

    let chosen: BotProvider;
    try {
      chosen = await this.deps.providers.forBot(bot);
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      return { kind: 'notice', notice: NOTICES.failed, providerProblem: error.message };
    }
    // A run that died between chat storing its reply and recording it would have the provider asked (and
    // the user billed) twice: a takeover first asks chat. Only takeovers: a first attempt posted nothing.
    if (job.attempt > 1) {
      const posted = await this.deps.poster.findPosted(job);
      if (posted) return { kind: 'posted', message: posted };
    }
    const messages =
      bot.kind === 'llm'
        ? await this.llmPrompt(job, bot, question)
        : [{ role: 'user' as const, content: question }];
    // Reserved last, once the prompt it is estimated from is known: nothing after it can fail.
    let reservation: QuotaReservation | undefined;
    if (chosen.metered) {
      reservation = await this.deps.usage.reserve(
        job.userId,
        tokensToReserve(messages, bot.config.maxTokens),
      );
      if (!reservation) return { kind: 'notice', notice: QUOTA_NOTICE, outcome: 'quota' };
    }
    const call = new ProviderCall(this.deps.cancellation, job, chosen, {
      model: chosen.model,
      messages,
      temperature: bot.config.temperature,
      maxTokens: bot.config.maxTokens,
    });
    return { kind: 'stream', bot, chosen, messages, reservation, call };
  }

  /** Stops the provider call a preparation started and gives back its quota, when the call is not read. */
  discard(prepared: Promise<Preparation> | undefined): void {
    void prepared
      ?.then(
        (preparation) => {
          if (preparation.kind !== 'stream') return undefined;
          preparation.call.abandon();
          return preparation.reservation?.release();
        },
        () => undefined, // a preparation that failed reserved nothing
      )
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not release a quota reservation; it lapses on its own'),
      );
  }

  private async answer(job: ReplyJob): Promise<ReplyResult> {
    // Queued behind a /human, or asked just before the conversation was closed or handed over.
    if (this.deps.cancellation.isCancelled(job)) {
      this.discard(job.prepared);
      return simpleResult('cancelled', null);
    }
    const prepared = await (job.prepared ?? this.prepare(job));
    switch (prepared.kind) {
      case 'notice': {
        if (prepared.providerProblem !== undefined) {
          this.deps.logger.warn(
            { botId: job.botId, reason: prepared.providerProblem },
            'bot cannot reach a provider',
          );
        }
        const posted = await this.deps.poster.post(job, prepared.notice);
        return simpleResult(prepared.outcome ?? 'failed', posted?.id ?? null);
      }
      case 'command':
        return this.deps.commands.run(job, prepared.bot, prepared.command);
      case 'handoff':
        return this.deps.commands.handOff(job);
      case 'posted':
        // No provider call and no reservation. The dead run settled its call's usage before posting
        // (streamReply meters, then posts), so the quota ledger has it already; this completion reports
        // zero tokens and no cost so nothing counts twice. What that call used is missing only from the
        // reply.completed events, which died with the run.
        await this.deps.poster.remember(job, prepared.message);
        return simpleResult(postedOutcome(prepared.message.body), prepared.message.id);
      case 'stream':
        return streamReply(this.deps, job, prepared);
    }
  }

  /** System prompt + matching knowledge + what personalization knows + the recent conversation since /reset. */
  private async llmPrompt(job: ReplyJob, bot: BotRow, question: string): Promise<ChatTurn[]> {
    const count = Math.max(1, bot.config.contextMessages ?? DEFAULT_CONTEXT_MESSAGES);
    // The messages before the question, which itself always comes last: its own transcript line may be
    // written while this reads (ReplyDispatcher.prepareAhead).
    const [rows, base, facts] = await Promise.all([
      count > 1
        ? this.deps.transcript.recentSinceReset(job.conversationId, job.triggerSeq - 1, count - 1)
        : [],
      this.deps.knowledge.baseOf(bot.id, bot.knowledgeVersion),
      this.deps.personal.factsAbout(job.userId).catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, 'personal context unavailable; answering without it');
        return [];
      }),
    ]);
    const threshold = (bot.config.threshold ?? DEFAULT_CONFIDENCE_THRESHOLD) / 2;
    const passages = base.context(question, PROMPT_PASSAGES, threshold);
    const history = [...historyTurns(rows), { role: 'user' as const, content: question }];
    const system = systemMessage(bot.config.systemPrompt ?? defaultSystemPrompt(bot.name), passages, facts);
    return [{ role: 'system', content: system }, ...history];
  }
}
