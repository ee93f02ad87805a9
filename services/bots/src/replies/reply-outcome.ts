import type { ReplyOutcome } from '@parley/contracts';

/** How one reply ended, as recorded and announced in `bots.reply.completed`. */
export interface ReplyResult {
  outcome: ReplyOutcome;
  replyMessageId: string | null;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  firstTokenMs: number | null;
}

export function simpleResult(outcome: ReplyOutcome, replyMessageId: string | null): ReplyResult {
  return {
    outcome,
    replyMessageId,
    model: null,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
    firstTokenMs: null,
  };
}
