import type { Cache, Unsubscribe } from '@parley/cache';
import type { Logger } from '@parley/kernel';
import type { ReplyJob } from './reply-job.ts';

/**
 * Every bots process listens here. A conversation id published on it stops all of that conversation's
 * streams everywhere; `{"conversationId","upToSeq"}` (JSON) only those answering messages up to that seq;
 * `{"conversationId","seq"}` only the one answering that message (its author deleted it).
 */
export const CANCEL_CHANNEL = 'bots:cancel';

/** The abort reason when this process stops: the reply is handed to another process, not given up. */
export const SHUTDOWN = 'shutdown';
/** The abort reason when the conversation was closed, deleted or handed to a person. */
export const CANCELLED = 'cancelled';

/** The reply a cancellation is judged for: the user's message it answers, and when that was asked. */
export type CancellableReply = Pick<ReplyJob, 'conversationId' | 'triggerSeq' | 'askedAt'>;

/** What each conversation's cancellations so far cover, for replies still queued. */
interface Cancelled {
  /** Replies to questions asked up to this time (a cancellation of everything: closed, deleted, /human). */
  askedUpTo: number;
  /** Replies to messages up to this seq (what an event saw handed to people). */
  upToSeq: number;
  /** Replies to these messages only (deleted by their authors). */
  seqs: Set<number>;
  /** When this entry last changed, to forget it. */
  touchedAt: number;
}

/**
 * The replies running in this process, by conversation, and the cross-process "stop them" signal: chat's
 * status events reach one bots process (a consumer group), the streams may run in any of them.
 */
export class CancellationRegistry {
  /** Each running reply's abort switch, with the seq of the message it answers. */
  private readonly running = new Map<string, Map<AbortController, number>>();
  private readonly cancelled = new Map<string, Cancelled>();
  private unsubscribe: Unsubscribe | undefined;

  constructor(
    private readonly cache: Cache,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.cache.subscribe(CANCEL_CHANNEL, (payload) => {
      const signal = parseSignal(payload);
      if (signal?.seq !== undefined) this.cancelOneLocal(signal.conversationId, signal.seq);
      else if (signal) this.cancelLocal(signal.conversationId, CANCELLED, signal.upToSeq);
    });
  }

  /** Registers a reply; the returned signal aborts when a cancellation anywhere covers it. */
  track(reply: Pick<CancellableReply, 'conversationId' | 'triggerSeq'>): {
    signal: AbortSignal;
    done: () => void;
  } {
    const { conversationId } = reply;
    const controller = new AbortController();
    let replies = this.running.get(conversationId);
    if (!replies) {
      replies = new Map();
      this.running.set(conversationId, replies);
    }
    replies.set(controller, reply.triggerSeq);
    return {
      signal: controller.signal,
      done: () => {
        replies.delete(controller);
        if (replies.size === 0 && this.running.get(conversationId) === replies)
          this.running.delete(conversationId);
      },
    };
  }

  /**
   * Stops the conversation's streams in every bots process: all of them, or with `upToSeq` only the
   * replies to messages up to that seq. A cancellation read off an event passes the seq the event saw,
   * so the same event redelivered after the conversation came back to its bot stops none of the replies
   * to what the user wrote since (seqs come from chat, under the row lock: no clocks to compare).
   */
  async cancel(conversationId: string, upToSeq?: number): Promise<void> {
    this.cancelLocal(conversationId, CANCELLED, upToSeq);
    // Stopping everything goes out as the bare id, as it always has. Processes older than the bounded
    // form take it for an unknown conversation during a rolling upgrade and let such a reply run on; chat
    // still refuses to store it once people handle the conversation.
    await this.cache.publish(
      CANCEL_CHANNEL,
      upToSeq === undefined ? conversationId : JSON.stringify({ conversationId, upToSeq }),
    );
  }

  /**
   * Stops the reply to one message in every bots process, queued or streaming: its author deleted it, so
   * there is nothing left to answer. Replies to the conversation's other messages go on.
   */
  async cancelReplyTo(conversationId: string, seq: number): Promise<void> {
    this.cancelOneLocal(conversationId, seq);
    // Processes older than this form ignore it (no upToSeq): their reply runs on, as it did before.
    await this.cache.publish(CANCEL_CHANNEL, JSON.stringify({ conversationId, seq }));
  }

  /**
   * Whether a cancellation has covered a reply still queued: one behind a handoff (or asked just before
   * it) must not be given. A question asked later comes with a fresh snapshot of the conversation, so it
   * is judged by that instead.
   */
  isCancelled(reply: CancellableReply): boolean {
    const cancelled = this.cancelled.get(reply.conversationId);
    if (!cancelled) return false;
    return (
      cancelled.askedUpTo >= reply.askedAt ||
      cancelled.upToSeq >= reply.triggerSeq ||
      cancelled.seqs.has(reply.triggerSeq)
    );
  }

  /** Graceful shutdown: stop everything still streaming here. */
  cancelAll(): void {
    for (const conversationId of [...this.running.keys()]) this.cancelLocal(conversationId, SHUTDOWN);
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  private cancelLocal(conversationId: string, reason: string, upToSeq?: number): void {
    if (reason === CANCELLED) this.remember(conversationId, upToSeq);
    const replies = this.running.get(conversationId);
    if (!replies) return;
    let stopped = 0;
    for (const [controller, triggerSeq] of replies) {
      if (upToSeq !== undefined && triggerSeq > upToSeq) continue;
      controller.abort(reason);
      stopped++;
    }
    this.logger.debug({ conversationId, streams: stopped, reason }, 'cancelling bot replies');
  }

  private cancelOneLocal(conversationId: string, seq: number): void {
    this.remember(conversationId, undefined, seq);
    for (const [controller, triggerSeq] of this.running.get(conversationId) ?? []) {
      if (triggerSeq === seq) controller.abort(CANCELLED);
    }
    this.logger.debug({ conversationId, seq }, 'cancelling the bot reply to a deleted message');
  }

  private remember(conversationId: string, upToSeq: number | undefined, onlySeq?: number): void {
    const now = Date.now();
    const before = this.cancelled.get(conversationId);
    const seqs = before?.seqs ?? new Set<number>();
    if (onlySeq !== undefined) seqs.add(onlySeq);
    this.cancelled.delete(conversationId);
    // Either bound only grows: an old event arriving late narrows nothing a newer one covered.
    this.cancelled.set(conversationId, {
      askedUpTo: Math.max(
        before?.askedUpTo ?? Number.NEGATIVE_INFINITY,
        upToSeq === undefined && onlySeq === undefined ? now : Number.NEGATIVE_INFINITY,
      ),
      upToSeq: Math.max(before?.upToSeq ?? 0, upToSeq ?? 0),
      seqs,
      touchedAt: now,
    });
    // Oldest first (re-inserted on every cancel): what no queued reply can still be waiting on goes.
    for (const [id, entry] of this.cancelled) {
      if (now - entry.touchedAt < FORGET_AFTER_MS) break;
      this.cancelled.delete(id);
    }
  }
}

/** A bare conversation id (cancel everything), the bounded form or one message; anything else is ignored. */
function parseSignal(
  payload: string,
): { conversationId: string; upToSeq?: number; seq?: number } | undefined {
  if (!payload.startsWith('{')) return payload === '' ? undefined : { conversationId: payload };
  try {
    const parsed = JSON.parse(payload) as { conversationId?: unknown; upToSeq?: unknown; seq?: unknown };
    if (typeof parsed.conversationId !== 'string') return undefined;
    if (typeof parsed.seq === 'number') return { conversationId: parsed.conversationId, seq: parsed.seq };
    if (typeof parsed.upToSeq !== 'number') return undefined;
    return { conversationId: parsed.conversationId, upToSeq: parsed.upToSeq };
  } catch {
    return undefined;
  }
}

/** Longer than any reply waits in its queue (replies time out well before). */
const FORGET_AFTER_MS = 30 * 60_000;
