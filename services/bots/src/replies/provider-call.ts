import type { CompletionChunk, CompletionRequest } from '../providers/chat-provider.ts';
import type { BotProvider } from '../providers/provider-factory.ts';
import { CANCELLED, type CancellationRegistry } from './cancellation.ts';
import type { ReplyJob } from './reply-job.ts';

/**
 * A provider stream asked for as soon as the prompt is known, possibly before its reply is claimed: the
 * provider's own time to first token (hundreds of ms for a real model) then covers the claim's round trip
 * instead of following it. Nothing it yields reaches anyone until the reply runs, which it does only once
 * claimed; a call whose reply is not claimed here after all is {@link abandon}ed, which aborts the request
 * (the cost of a lost claim: one prompt sent and dropped, on a redelivery or a second process's copy).
 *
 * Tracked from the moment it starts, so a close or handoff in the meantime stops it like any stream.
 */
export class ProviderCall {
  private readonly controller = new AbortController();
  private readonly iterator: AsyncIterator<CompletionChunk>;
  private first: Promise<IteratorResult<CompletionChunk>> | undefined;
  private readonly untrack: () => void;

  constructor(
    cancellation: CancellationRegistry,
    job: Pick<ReplyJob, 'conversationId' | 'triggerSeq'>,
    chosen: BotProvider,
    request: Omit<CompletionRequest, 'signal'>,
  ) {
    const tracking = cancellation.track(job);
    this.untrack = tracking.done;
    const forward = () => this.controller.abort(tracking.signal.reason);
    if (tracking.signal.aborted) forward();
    else tracking.signal.addEventListener('abort', forward, { once: true });
    this.iterator = chosen.provider
      .stream({ ...request, signal: this.controller.signal })
      [Symbol.asyncIterator]();
    // The request goes out now; a failure is seen by whoever reads the chunks, or by nobody if abandoned.
    this.first = this.iterator.next();
    this.first.catch(() => {});
  }

  /** Aborted with CANCELLED or SHUTDOWN (the registry's reasons) when the reply is stopped. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The provider's chunks, read once; the call stops being tracked when they end. */
  async *chunks(): AsyncIterable<CompletionChunk> {
    try {
      const first = this.first;
      this.first = undefined;
      if (!first) return;
      for (let next = await first; !next.done; next = await this.iterator.next()) yield next.value;
    } finally {
      this.untrack();
    }
  }

  /** Not going to be read: the request is aborted. */
  abandon(): void {
    this.first = undefined;
    if (!this.controller.signal.aborted) this.controller.abort(CANCELLED);
    this.untrack();
  }
}
