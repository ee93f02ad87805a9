import type { Cache } from '@parley/cache';
import { DELTA_CHANNEL, draftKey, draftsKey, type MessageDeltaEvent } from '@parley/contracts';

export interface CoalescePolicy {
  /** At most one delta per this many ms per stream (the first goes out at once). */
  intervalMs: number;
  /** ...unless this many characters are waiting. */
  maxChars: number;
  /** How long a draft outlives its last update (a crashed process's draft disappears by itself). */
  ttlMs: number;
}

export const DEFAULT_COALESCE: CoalescePolicy = { intervalMs: 50, maxChars: 64, ttlMs: 60_000 };

/**
 * One reply being streamed to a conversation. Tokens are coalesced so hundreds of parallel streams don't
 * flood the sockets: the first goes out at once (time to first delta is what people notice), later ones
 * at most every `intervalMs` or `maxChars`. Each flush stores the text so far as the draft (for `sync`)
 * *before* publishing the delta, so a client resuming from the draft never misses text; `index` is the
 * delta's offset in the text, so it never counts text twice either.
 */
export class DraftStream {
  private text = '';
  private flushed = 0;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private announced = false;
  private ended = false;

  constructor(
    private readonly cache: Cache,
    readonly conversationId: string,
    readonly draftId: string,
    private readonly policy: CoalescePolicy = DEFAULT_COALESCE,
  ) {}

  get textSoFar(): string {
    return this.text;
  }

  /** Deltas published so far (for tests and metrics). */
  deltas = 0;

  push(token: string): void {
    if (this.ended || token === '') return;
    this.text += token;
    const waiting = this.text.length - this.flushed;
    const due = performance.now() - this.lastFlushAt >= this.policy.intervalMs;
    if (due || waiting >= this.policy.maxChars) this.flushNow();
    else this.timer ??= setTimeout(() => this.flushNow(), this.policy.intervalMs);
  }

  /** Publishes what is pending and waits for every flush; returns the whole text. */
  async finish(): Promise<string> {
    this.flushNow();
    this.ended = true;
    await this.chain;
    if (this.failure) throw this.failure;
    return this.text;
  }

  /** Stops streaming and removes the draft (after the final message is posted, or when cancelled). */
  async discard(): Promise<void> {
    this.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
    if (!this.announced) return;
    await Promise.all([
      this.cache.removeMember(draftsKey(this.conversationId), this.draftId),
      this.cache.delete(draftKey(this.conversationId, this.draftId)),
    ]);
  }

  private flushNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.text.length === this.flushed) return;
    const index = this.flushed;
    const delta = this.text.slice(index);
    const text = this.text;
    this.flushed = text.length;
    this.lastFlushAt = performance.now();
    this.deltas += 1;
    this.chain = this.chain
      .then(() => this.publish(index, delta, text))
      .catch((error: unknown) => {
        this.failure ??= error;
      });
  }

  private async publish(index: number, delta: string, text: string): Promise<void> {
    const event: MessageDeltaEvent = {
      conversationId: this.conversationId,
      draftId: this.draftId,
      delta,
      index,
    };
    // Issued in this order on one connection: the draft is stored before the delta is heard.
    const writes: Promise<unknown>[] = [
      this.cache.set(draftKey(this.conversationId, this.draftId), text, this.policy.ttlMs),
    ];
    // The member set expires too: refresh it now and then on a long reply.
    if (!this.announced || this.deltas % 20 === 0) {
      this.announced = true;
      writes.push(this.cache.addMember(draftsKey(this.conversationId), this.draftId, this.policy.ttlMs));
    }
    writes.push(this.cache.publish(DELTA_CHANNEL, JSON.stringify(event)));
    await Promise.all(writes);
  }
}
