import type { Logger } from '@parley/kernel';
import type { RepliesRepository } from '../repositories/replies-repository.ts';
import type { CancellationRegistry } from './cancellation.ts';
import type { Preparation, ReplyJob } from './reply-job.ts';
import type { ReplyRunner } from './reply-runner.ts';
import { ReplyReleased } from './stream-reply.ts';

/**
 * Runs claimed replies off the bus consumer's path (which handles one event at a time), one at a time per
 * conversation so answers come in the order of the questions, and at most `concurrency` at once overall.
 */
export class ReplyDispatcher {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly released = new Set<string>();
  /** Claimed replies this process has queued or is running: their leases are kept alive. */
  private readonly held = new Set<string>();
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private stopping = false;
  /** Replies this process finished (whatever their outcome). */
  completed = 0;

  constructor(
    private readonly runner: ReplyRunner,
    private readonly replies: RepliesRepository,
    private readonly cancellation: CancellationRegistry,
    private readonly logger: Logger,
    private readonly concurrency = 256,
    /** A claim's lease; renewed every third of it while the reply waits in its queue or streams. */
    private readonly leaseMs = 180_000,
  ) {}

  /**
   * Starts renewing the leases of held replies: a reply waiting behind others in its conversation, or
   * a long stream, outlives its first lease, and a lapsed lease means another process answers (and is
   * billed) again.
   */
  start(): void {
    this.renewTimer ??= setInterval(() => void this.renew(), Math.max(250, this.leaseMs / 3));
    this.renewTimer.unref();
  }

  get inFlight(): number {
    return this.chains.size;
  }

  /**
   * Starts reading what a reply to `job` needs, to overlap with writing its claim, when nothing would make
   * the reads stale: an earlier reply of the conversation still running here would add to the context the
   * answer must see, so then the reads wait for their turn (undefined).
   */
  prepareAhead(job: ReplyJob): Promise<Preparation> | undefined {
    if (this.stopping || this.chains.has(job.conversationId)) return undefined;
    const prepared = this.runner.prepare(job);
    prepared.catch(() => {}); // a claim lost to another process leaves it unread
    return prepared;
  }

  /** A preparation read ahead for a reply this process did not claim after all: its quota goes back. */
  discard(prepared: Promise<Preparation> | undefined): void {
    this.runner.discard(prepared);
  }

  enqueue(job: ReplyJob): void {
    this.held.add(job.triggerMessageId);
    const previous = this.chains.get(job.conversationId);
    // Read ahead of a reply that has started since (a takeover), it may miss that reply: read again.
    if (previous && job.prepared) {
      this.runner.discard(job.prepared);
      job = { ...job, prepared: undefined };
    }
    const next = (previous ?? Promise.resolve()).then(() => this.execute(job));
    this.chains.set(job.conversationId, next);
    void next.finally(() => {
      if (this.chains.get(job.conversationId) === next) this.chains.delete(job.conversationId);
    });
  }

  /** Waits up to `graceMs` for replies to finish, then stops the rest and hands them to other processes. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.chains.values()]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    this.cancellation.cancelAll();
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.allSettled([...this.chains.values()]);
    await this.replies.release([...this.released]).catch((error: unknown) => {
      this.logger.warn(
        { err: error },
        'could not release unfinished replies; they are taken over when their lease ends',
      );
    });
  }

  private async execute(job: ReplyJob): Promise<void> {
    try {
      await this.executeHeld(job);
    } finally {
      this.held.delete(job.triggerMessageId);
    }
  }

  private async renew(): Promise<void> {
    try {
      await this.replies.renew([...this.held], this.leaseMs);
    } catch (error) {
      this.logger.warn({ err: error, replies: this.held.size }, 'could not renew bot reply leases');
    }
  }

  private async executeHeld(job: ReplyJob): Promise<void> {
    if (this.stopping) {
      this.runner.discard(job.prepared);
      this.released.add(job.triggerMessageId);
      return;
    }
    // A reply that waited for a slot may have waited long enough for its bot or quota to change.
    if (await this.acquire()) {
      this.runner.discard(job.prepared);
      job = { ...job, prepared: undefined };
    }
    try {
      if (this.stopping) {
        this.runner.discard(job.prepared);
        this.released.add(job.triggerMessageId);
        return;
      }
      await this.runner.run(job);
      this.completed += 1;
    } catch (error) {
      if (error instanceof ReplyReleased) {
        this.released.add(job.triggerMessageId);
        return;
      }
      // The claim stays with a lease: the sweeper retries it when the lease lapses.
      this.logger.error(
        { err: error, triggerMessageId: job.triggerMessageId, conversationId: job.conversationId },
        'bot reply failed; it will be retried',
      );
    } finally {
      this.release();
    }
  }

  /** Takes a slot; true when it had to wait for one. */
  private acquire(): Promise<boolean> {
    if (this.running < this.concurrency) {
      this.running += 1;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.running += 1;
        resolve(true);
      });
    });
  }

  private release(): void {
    this.running -= 1;
    this.waiting.shift()?.();
  }
}
