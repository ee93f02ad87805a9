import type { Cache } from '@parley/cache';
import { replyClientMessageId } from '@parley/contracts';
import type { Logger } from '@parley/kernel';
import type { QuotaReservation } from '../domain/usage-meter.ts';
import { billedUsage, type ChatTurn, type TokenUsage } from '../providers/chat-provider.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { BotProvider } from '../providers/provider-factory.ts';
import type { BotRow } from '../repositories/bots-repository.ts';
import { CANCELLED, SHUTDOWN } from './cancellation.ts';
import { type CoalescePolicy, DraftStream } from './draft-stream.ts';
import { NOTICES } from './notices.ts';
import type { ReplyJob, StreamPreparation } from './reply-job.ts';
import type { ReplyResult } from './reply-outcome.ts';
import type { ReplyPoster } from './reply-poster.ts';

/** The reply was interrupted because this process is stopping: another one takes it over. */
export class ReplyReleased extends Error {
  constructor() {
    super('reply released at shutdown');
    this.name = 'ReplyReleased';
  }
}

export interface StreamReplyDeps {
  cache: Cache;
  poster: ReplyPoster;
  coalesce: CoalescePolicy;
  logger: Logger;
}

/**
 * Streams one answer from a provider to the conversation as deltas, then posts it as the one persisted
 * reply. A failure ends in a short notice (after whatever text was already shown), a cancellation
 * (conversation closed or handed off) in nothing at all. However it ends, what the provider billed settles
 * the quota reservation (undefined for providers that are not metered).
 */
export async function streamReply(
  deps: StreamReplyDeps,
  job: ReplyJob,
  { bot, chosen, messages, reservation, call }: StreamPreparation,
): Promise<ReplyResult> {
  const draft = new DraftStream(
    deps.cache,
    job.conversationId,
    replyClientMessageId(job.triggerMessageId),
    deps.coalesce,
  );
  let usage: TokenUsage | undefined;
  let unanswered = false;
  let firstTokenMs: number | null = null;
  let failure: unknown;
  try {
    for await (const chunk of call.chunks()) {
      if (chunk.type === 'delta') {
        firstTokenMs ??= Math.max(0, Date.now() - job.askedAt);
        draft.push(chunk.text);
      } else if (chunk.type === 'usage') usage = chunk.usage;
      else unanswered = true;
    }
  } catch (error) {
    failure = error;
  }
  try {
    const reason: unknown = call.signal.reason;
    if (call.signal.aborted && reason === SHUTDOWN) {
      // The process taking the reply over asks (and reserves) again; what this call used was billed.
      await meter(bot, chosen, reservation, messages, usage, draft.textSoFar).catch((error: unknown) =>
        deps.logger.warn({ err: error }, 'could not meter a reply stopped at shutdown'),
      );
      throw new ReplyReleased();
    }
    if (call.signal.aborted && reason === CANCELLED) {
      // Nothing more goes out: what is still pending in the draft is dropped with it.
      const metered = await meter(bot, chosen, reservation, messages, usage, draft.textSoFar);
      return { outcome: 'cancelled', replyMessageId: null, firstTokenMs, ...metered };
    }
    const text = await draft.finish().catch(() => draft.textSoFar);
    const metered = await meter(bot, chosen, reservation, messages, usage, text);
    if (failure === undefined && text.trim() !== '') {
      const posted = await deps.poster.post(job, text);
      return {
        outcome: unanswered ? 'unknown' : 'answered',
        replyMessageId: posted?.id ?? null,
        firstTokenMs,
        ...metered,
      };
    }
    logFailure(deps.logger, job, bot, failure);
    const body = text.trim() === '' ? NOTICES.failed : `${text}\n\n${NOTICES.cutOff}`;
    const posted = await deps.poster.post(job, body);
    return { outcome: 'failed', replyMessageId: posted?.id ?? null, firstTokenMs, ...metered };
  } finally {
    await draft
      .discard()
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not remove a draft'));
  }
}

async function meter(
  bot: BotRow,
  chosen: BotProvider,
  reservation: QuotaReservation | undefined,
  messages: ChatTurn[],
  usage: TokenUsage | undefined,
  text: string,
): Promise<Pick<ReplyResult, 'model' | 'promptTokens' | 'completionTokens' | 'costUsd'>> {
  if (!chosen.metered || !reservation) {
    return { model: null, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  }
  const billed = billedUsage(messages, usage, text);
  if (!billed) {
    await reservation.release();
    return { model: chosen.model, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  }
  const metered = await reservation.settle({
    botId: bot.id,
    model: chosen.model,
    promptTokens: billed.promptTokens,
    completionTokens: billed.completionTokens,
  });
  return { model: chosen.model, ...metered };
}

function logFailure(logger: Logger, job: ReplyJob, bot: BotRow, failure: unknown): void {
  const kind = failure instanceof ProviderError ? failure.kind : 'unknown';
  const status = failure instanceof ProviderError ? failure.status : undefined;
  // The provider's message only: a cause could carry request details, and a key must never reach a log.
  logger.warn(
    {
      botId: bot.id,
      conversationId: job.conversationId,
      triggerMessageId: job.triggerMessageId,
      kind,
      status,
      reason: failure instanceof Error ? failure.message : 'empty reply',
    },
    'bot reply failed; the user gets a notice',
  );
}
