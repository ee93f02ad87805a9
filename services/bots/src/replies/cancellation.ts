import type { Cache, Unsubscribe } from '@parley/cache';
import type { Logger } from '@parley/kernel';

/** Every bots process listens here; a conversation id published on it stops that conversation's streams everywhere. */
export const CANCEL_CHANNEL = 'bots:cancel';

/** The abort reason when this process stops: the reply is handed to another process, not given up. */
export const SHUTDOWN = 'shutdown';
/** The abort reason when the conversation was closed, deleted or handed to a person. */
export const CANCELLED = 'cancelled';

/**
 * The replies running in this process, by conversation, and the cross-process "stop them" signal: chat's
 * status events reach one bots process (a consumer group), the streams may run in any of them.
 */
export class CancellationRegistry {
  private readonly running = new Map<string, Set<AbortController>>();
  /** When each conversation was last cancelled (closed, deleted, handed to people), for queued replies. */
  private readonly cancelledAt = new Map<string, number>();
  private unsubscribe: Unsubscribe | undefined;

  constructor(
    private readonly cache: Cache,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.cache.subscribe(CANCEL_CHANNEL, (conversationId) =>
      this.cancelLocal(conversationId),
    );
  }

  /** Registers a reply; the returned signal aborts when the conversation is cancelled anywhere. */
  track(conversationId: string): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    let set = this.running.get(conversationId);
    if (!set) {
      set = new Set();
      this.running.set(conversationId, set);
    }
    set.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        set.delete(controller);
        if (set.size === 0 && this.running.get(conversationId) === set) this.running.delete(conversationId);
      },
    };
  }

  /** Stops the conversation's streams in every bots process. */
  async cancel(conversationId: string): Promise<void> {
    this.cancelLocal(conversationId);
    await this.cache.publish(CANCEL_CHANNEL, conversationId);
  }

  /**
   * Whether the conversation was cancelled after the user asked: a reply still queued behind the
   * handoff (or asked just before it) must not be given. A question asked later comes with a fresh
   * snapshot of the conversation, so it is judged by that instead.
   */
  cancelledSince(conversationId: string, askedAt: number): boolean {
    return (this.cancelledAt.get(conversationId) ?? Number.NEGATIVE_INFINITY) >= askedAt;
  }

  /** Graceful shutdown: stop everything still streaming here. */
  cancelAll(): void {
    for (const conversationId of [...this.running.keys()]) this.cancelLocal(conversationId, SHUTDOWN);
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  private cancelLocal(conversationId: string, reason: string = CANCELLED): void {
    if (reason === CANCELLED) this.remember(conversationId);
    const set = this.running.get(conversationId);
    if (!set) return;
    this.logger.debug({ conversationId, streams: set.size, reason }, 'cancelling bot replies');
    for (const controller of set) controller.abort(reason);
  }

  private remember(conversationId: string): void {
    const now = Date.now();
    this.cancelledAt.delete(conversationId);
    this.cancelledAt.set(conversationId, now);
    // Oldest first (re-inserted on every cancel): what no queued reply can still be waiting on goes.
    for (const [id, at] of this.cancelledAt) {
      if (now - at < FORGET_AFTER_MS) break;
      this.cancelledAt.delete(id);
    }
  }
}

/** Longer than any reply waits in its queue (replies time out well before). */
const FORGET_AFTER_MS = 30 * 60_000;
