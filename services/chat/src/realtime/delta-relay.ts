import type { MessageDeltaEvent } from '@parley/contracts';
import type { Logger } from '@parley/kernel';

/** How long a conversation's audience serves its deltas: a membership change reaches deltas within this. */
export const DELTA_AUDIENCE_TTL_MS = 1_000;

interface Audience {
  userIds: readonly string[] | undefined;
  lookup: Promise<readonly string[]>;
  expiresAt: number;
}

export interface DeltaRelayOptions {
  membersOf: (conversationId: string) => Promise<readonly string[]>;
  emit: (userIds: readonly string[], delta: MessageDeltaEvent) => void;
  logger: Logger;
  ttlMs?: number;
  now?: () => number;
}

/**
 * Streamed bot tokens (a cache pub/sub topic every process hears) to the members' sockets on this process.
 * A reply streams a delta every ~50 ms to a conversation whose members rarely change, so the audience is
 * looked up once per conversation and second, not once per delta (hundreds of parallel streams would
 * otherwise cost a query each per delta); and each conversation's deltas leave in the order they came.
 */
export class DeltaRelay {
  private readonly audiences = new Map<string, Audience>();
  /** Conversations with a delta still waiting for its audience: later ones queue behind it. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: DeltaRelayOptions) {
    this.ttlMs = options.ttlMs ?? DELTA_AUDIENCE_TTL_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The conversation's members as a send just committed them: a bot's answer streams within the second,
   * and its first delta then needs no lookup.
   */
  remember(conversationId: string, userIds: readonly string[]): void {
    if (this.audiences.size > 10_000) this.forgetExpired(this.now());
    this.audiences.set(conversationId, {
      userIds,
      lookup: Promise.resolve(userIds),
      expiresAt: this.now() + this.ttlMs,
    });
  }

  relay(raw: string): void {
    const delta = parseDelta(raw);
    if (!delta) {
      this.options.logger.warn('dropping a malformed message delta');
      return;
    }
    const { conversationId } = delta;
    const audience = this.audienceOf(conversationId);
    const queued = this.queues.get(conversationId);
    if (!queued && audience.userIds) {
      this.options.emit(audience.userIds, delta);
      return;
    }
    const next = (queued ?? Promise.resolve())
      .then(() => audience.lookup)
      .then(
        (userIds) => this.options.emit(userIds, delta),
        (error: unknown) => this.options.logger.warn({ err: error }, 'could not relay a message delta'),
      );
    this.queues.set(conversationId, next);
    void next.then(() => {
      if (this.queues.get(conversationId) === next) this.queues.delete(conversationId);
    });
  }

  private audienceOf(conversationId: string): Audience {
    const now = this.now();
    const known = this.audiences.get(conversationId);
    if (known && known.expiresAt > now) return known;
    if (this.audiences.size > 10_000) this.forgetExpired(now);
    const audience: Audience = {
      userIds: undefined,
      lookup: this.options.membersOf(conversationId),
      expiresAt: now + this.ttlMs,
    };
    audience.lookup.then(
      (userIds) => {
        audience.userIds = userIds;
      },
      () => {
        // A failed lookup is not remembered: the next delta asks again.
        if (this.audiences.get(conversationId) === audience) this.audiences.delete(conversationId);
      },
    );
    this.audiences.set(conversationId, audience);
    return audience;
  }

  private forgetExpired(now: number): void {
    for (const [conversationId, audience] of this.audiences) {
      if (audience.expiresAt <= now) this.audiences.delete(conversationId);
    }
  }
}

function parseDelta(raw: string): MessageDeltaEvent | undefined {
  try {
    const parsed = JSON.parse(raw) as Partial<MessageDeltaEvent> | null;
    if (typeof parsed?.conversationId !== 'string' || typeof parsed.draftId !== 'string') return undefined;
    return {
      conversationId: parsed.conversationId,
      draftId: parsed.draftId,
      delta: String(parsed.delta ?? ''),
      index: Number(parsed.index ?? 0),
    };
  } catch {
    return undefined;
  }
}
