import type { Notifier } from '../domain/notifier.ts';
import type { ConversationsRepository } from '../repositories/conversations-repository.ts';
import type { UsersRepository } from '../repositories/users-repository.ts';

/** At most one `typing: true` per user and conversation in this window; refreshes in between are absorbed. */
export const TYPING_THROTTLE_MS = 2000;
/** Without a refresh, typing stops on its own after this long (a closed tab never says it stopped). */
export const TYPING_EXPIRES_MS = 5000;

interface Typing {
  /** The user's sockets (tabs) typing in the conversation: it stops when the last one does. */
  sockets: Set<string>;
  expiry: NodeJS.Timeout;
  /** A `typing: true` held back until the throttle window has passed. */
  deferred: NodeJS.Timeout | undefined;
  /** Whether the members were told: a stop before the held-back start says nothing either. */
  announced: boolean;
  /** Staff working the conversation without being a member: membership is not what lets them type. */
  asStaff: boolean;
}

/** Typing indicators: relayed to the other members, throttled, expiring, never stored. */
export class TypingRelay {
  private readonly active = new Map<string, Typing>();
  /** When each user and conversation last said `typing: true`: kept past a stop, so stop-start cannot beat the throttle. */
  private readonly lastTrue = new Map<string, number>();

  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly users: UsersRepository,
    private readonly notifier: Notifier,
  ) {}

  async update(
    userId: string,
    socketId: string,
    conversationId: string,
    typing: boolean,
    memberIds: readonly string[],
    asStaff = false,
  ): Promise<void> {
    const key = `${userId} ${conversationId}`;
    const current = this.active.get(key);
    if (!typing) {
      if (!current?.sockets.delete(socketId) || current.sockets.size > 0) return;
      this.end(key, current);
      if (current.announced) this.send(userId, conversationId, false, memberIds);
      return;
    }
    const entry: Typing = current ?? {
      sockets: new Set(),
      expiry: undefined as never,
      deferred: undefined,
      announced: false,
      asStaff,
    };
    entry.asStaff = asStaff;
    clearTimeout(entry.expiry);
    entry.expiry = setTimeout(() => void this.expire(key, entry, userId, conversationId), TYPING_EXPIRES_MS);
    entry.expiry.unref();
    entry.sockets.add(socketId);
    this.active.set(key, entry);

    const now = Date.now();
    const wait = (this.lastTrue.get(key) ?? Number.NEGATIVE_INFINITY) + TYPING_THROTTLE_MS - now;
    if (wait <= 0) {
      this.announce(key, entry, userId, conversationId, memberIds);
    } else if (!current && !entry.deferred) {
      // Started again right after a stop: said once the window has passed, if still typing then, to the
      // members of then (the ones of now may have left the conversation meanwhile).
      entry.deferred = setTimeout(() => {
        entry.deferred = undefined;
        void this.announceHeldBack(key, entry, userId, conversationId);
      }, wait);
      entry.deferred.unref();
    }
    this.forgetOldAnnouncements(now);
  }

  /** A socket going away stops its typing; the user's other tabs keep theirs. */
  stopSocket(userId: string, socketId: string): void {
    for (const [key, entry] of this.active) {
      if (!key.startsWith(`${userId} `) || !entry.sockets.delete(socketId) || entry.sockets.size > 0)
        continue;
      void this.expire(key, entry, userId, key.slice(userId.length + 1));
    }
  }

  close(): void {
    for (const [key, entry] of this.active) this.end(key, entry);
    this.lastTrue.clear();
  }

  private announce(
    key: string,
    entry: Typing,
    userId: string,
    conversationId: string,
    memberIds: readonly string[],
  ): void {
    entry.announced = true;
    this.lastTrue.set(key, Date.now());
    this.send(userId, conversationId, true, memberIds);
  }

  private async announceHeldBack(
    key: string,
    entry: Typing,
    userId: string,
    conversationId: string,
  ): Promise<void> {
    if (this.active.get(key) !== entry) return;
    let memberIds: string[];
    let silenced: boolean;
    try {
      const [memberRows, blocked] = await Promise.all([
        this.conversations.membersOf([conversationId]),
        this.users.blockSilences(userId, conversationId),
      ]);
      memberIds = memberRows.map((row) => row.userId);
      silenced = blocked;
    } catch {
      // Best effort, like an expiry: the next refresh of the start says it.
      return;
    }
    // Stopped meanwhile, no longer a member, or blocked since (or blocking): nothing to say.
    if (this.active.get(key) !== entry || silenced || !(entry.asStaff || memberIds.includes(userId))) return;
    this.announce(key, entry, userId, conversationId, memberIds);
  }

  private end(key: string, entry: Typing): void {
    clearTimeout(entry.expiry);
    clearTimeout(entry.deferred);
    if (this.active.get(key) === entry) this.active.delete(key);
  }

  private async expire(key: string, entry: Typing, userId: string, conversationId: string): Promise<void> {
    this.end(key, entry);
    if (!entry.announced) return;
    try {
      const memberRows = await this.conversations.membersOf([conversationId]);
      this.send(
        userId,
        conversationId,
        false,
        memberRows.map((row) => row.userId),
      );
    } catch {
      // Best effort: receivers expire typing on their own too.
    }
  }

  /** Past the window an announcement no longer holds anything back. */
  private forgetOldAnnouncements(now: number): void {
    if (this.lastTrue.size < 1024) return;
    for (const [key, at] of this.lastTrue) if (now - at >= TYPING_THROTTLE_MS) this.lastTrue.delete(key);
  }

  private send(userId: string, conversationId: string, typing: boolean, memberIds: readonly string[]): void {
    const others = memberIds.filter((id) => id !== userId);
    this.notifier.toUsers(others, 'typing', { conversationId, userId, typing });
  }
}
