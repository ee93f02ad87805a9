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

  /** Graceful shutdown: stop everything still streaming here. */
  cancelAll(): void {
    for (const conversationId of [...this.running.keys()]) this.cancelLocal(conversationId, SHUTDOWN);
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  private cancelLocal(conversationId: string, reason: string = CANCELLED): void {
    const set = this.running.get(conversationId);
    if (!set) return;
    this.logger.debug({ conversationId, streams: set.size, reason }, 'cancelling bot replies');
    for (const controller of set) controller.abort(reason);
  }
}
