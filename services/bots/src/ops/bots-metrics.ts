import { Counter, Histogram, type Registry } from '@parley/kernel';
import type { ReplyResult } from '../replies/reply-outcome.ts';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The bots' figures on /metrics: how replies end (a rise in `failed` or `quota` is what an operator
 * watches), how long providers take to their first token and to the end, and the tokens spent.
 */
export class BotsMetrics {
  private readonly replies: Counter<'outcome'>;
  private readonly firstToken: Histogram;
  private readonly duration: Histogram<'outcome'>;
  private readonly tokens: Counter<'type'>;

  constructor(registry: Registry) {
    this.replies = new Counter({
      name: 'bots_replies_total',
      help: 'Answers to user messages by outcome (answered, unknown, handoff, command, quota, failed, cancelled)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    this.firstToken = new Histogram({
      name: 'bots_first_token_seconds',
      help: 'Time from starting a reply to its first streamed token',
      buckets: SECONDS,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'bots_reply_duration_seconds',
      help: 'Time from starting a reply to recording how it ended, by outcome',
      labelNames: ['outcome'] as const,
      buckets: SECONDS,
      registers: [registry],
    });
    this.tokens = new Counter({
      name: 'bots_tokens_total',
      help: 'Provider tokens used by bot replies, by type (prompt, completion)',
      labelNames: ['type'] as const,
      registers: [registry],
    });
  }

  replyFinished(result: ReplyResult, durationMs: number): void {
    this.replies.inc({ outcome: result.outcome });
    this.duration.observe({ outcome: result.outcome }, durationMs / 1000);
    if (result.firstTokenMs !== null) this.firstToken.observe(result.firstTokenMs / 1000);
    if (result.promptTokens > 0) this.tokens.inc({ type: 'prompt' }, result.promptTokens);
    if (result.completionTokens > 0) this.tokens.inc({ type: 'completion' }, result.completionTokens);
  }
}
