import type { MessageDeltaEvent } from '@parley/contracts';
import type { Logger } from '@parley/kernel';

/** How long a conversation's audience serves its deltas: a membership change reaches deltas within this. */
export const DELTA_AUDIENCE_TTL_MS = 1_000;

interface Audience {
  /** Known members; undefined while they are looked up. */
  userIds: readonly string[] | undefined;
  /** The lookup, when the members were not handed over by a send. */
  lookup: Promise<readonly string[]> | undefined;
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
  private nextSweep = 0;

  constructor(private readonly options: DeltaRelayOptions) {
    this.ttlMs = options.ttlMs ?? DELTA_AUDIENCE_TTL_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The conversation's members as a send just committed them: a bot's answer streams within the second,
   * and its first delta then needs no lookup.
   */
  remember(conversationId: string, userIds: readonly string[]): void {
    // Every message:new passes here: no promise is made for a lookup that is not needed.
    this.keep(conversationId, userIds, undefined);
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
      .then(() => audience.lookup ?? audience.userIds ?? [])
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
    const known = this.audiences.get(conversationId);
    if (known && known.expiresAt > this.now()) return known;
    const lookup = this.options.membersOf(conversationId);
    const audience = this.keep(conversationId, undefined, lookup);
    lookup.then(
      (userIds) => {
        audience.userIds = userIds;
      },
      () => {
        // A failed lookup is not remembered: the next delta asks again.
        if (this.audiences.get(conversationId) === audience) this.audiences.delete(conversationId);
      },
    );
    return audience;
  }

  private keep(conversationId: string, userIds: Audience['userIds'], lookup: Audience['lookup']): Audience {
    const now = this.now();
    // Expired entries go in one sweep per interval, not on every call: with many busy conversations a
    // sweep per message would walk the whole map on the send path.
    if (now >= this.nextSweep) {
      this.nextSweep = now + this.ttlMs;
      for (const [id, audience] of this.audiences) if (audience.expiresAt <= now) this.audiences.delete(id);
    }
    const audience: Audience = { userIds, lookup, expiresAt: now + this.ttlMs };
    this.audiences.set(conversationId, audience);
    return audience;
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
