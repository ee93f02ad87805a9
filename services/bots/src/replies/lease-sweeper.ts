import type { Logger } from '@parley/kernel';
import type { RepliesRepository } from '../repositories/replies-repository.ts';
import type { ReplyDispatcher } from './reply-dispatcher.ts';
import type { ReplyRunner } from './reply-runner.ts';

export interface SweeperOptions {
  intervalMs: number;
  leaseMs: number;
  /** Takeovers after which a reply is given up with a notice instead of tried again. */
  maxAttempts: number;
}

/**
 * Finds replies whose process died (their lease lapsed) and runs them here. The reply's clientMessageId
 * is the same whoever posts it, so a takeover never produces a second message.
 */
export class LeaseSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly replies: RepliesRepository,
    private readonly dispatcher: ReplyDispatcher,
    private readonly runner: Pick<ReplyRunner, 'giveUp'>,
    private readonly options: SweeperOptions,
    private readonly logger: Logger,
  ) {}

  /** `now`: the first sweep runs at once rather than after one interval (replies released at start). */
  start(options: { now?: boolean } = {}): void {
    const tick = () => {
      this.sweeping ??= this.sweep().finally(() => {
        this.sweeping = undefined;
      });
    };
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
    if (options.now) tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  async sweep(): Promise<void> {
    try {
      const lapsed = await this.replies.takeOverLapsed(20, this.options.leaseMs);
      for (const row of lapsed) {
        const job = {
          triggerMessageId: row.triggerMessageId,
          conversationId: row.conversationId,
          triggerSeq: row.triggerSeq,
          botId: row.botId,
          userId: row.userId,
          askedAt: row.createdAt.getTime(),
          attempt: row.attempts,
        };
        this.logger.info(
          { triggerMessageId: row.triggerMessageId, attempt: row.attempts },
          'taking over a lapsed bot reply',
        );
        if (row.attempts > this.options.maxAttempts) await this.runner.giveUp(job);
        else this.dispatcher.enqueue(job);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'lapsed-reply sweep failed');
    }
  }
}
