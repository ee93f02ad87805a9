import type { Notifier } from '../domain/notifier.ts';
import type { ConversationsRepository } from '../repositories/conversations-repository.ts';

/** At most one `typing: true` per user and conversation in this window; refreshes in between are absorbed. */
export const TYPING_THROTTLE_MS = 2000;
/** Without a refresh, typing stops on its own after this long (a closed tab never says it stopped). */
export const TYPING_EXPIRES_MS = 5000;

interface Typing {
  lastSent: number;
  timer: NodeJS.Timeout;
}

/** Typing indicators: relayed to the other members, throttled, expiring, never stored. */
export class TypingRelay {
  private readonly active = new Map<string, Typing>();

  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly notifier: Notifier,
  ) {}

  async update(
    userId: string,
    conversationId: string,
    typing: boolean,
    memberIds: readonly string[],
  ): Promise<void> {
    const key = `${userId} ${conversationId}`;
    const current = this.active.get(key);
    if (!typing) {
      if (!current) return;
      clearTimeout(current.timer);
      this.active.delete(key);
      this.send(userId, conversationId, false, memberIds);
      return;
    }
    const now = Date.now();
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => void this.expire(key, userId, conversationId), TYPING_EXPIRES_MS);
    timer.unref();
    const due = !current || now - current.lastSent >= TYPING_THROTTLE_MS;
    this.active.set(key, { lastSent: due ? now : current.lastSent, timer });
    if (due) this.send(userId, conversationId, true, memberIds);
  }

  /** A disconnecting user stops typing everywhere at once. */
  stopAll(userId: string): void {
    for (const [key, entry] of this.active) {
      if (!key.startsWith(`${userId} `)) continue;
      clearTimeout(entry.timer);
      this.active.delete(key);
      void this.expire(key, userId, key.slice(userId.length + 1));
    }
  }

  close(): void {
    for (const entry of this.active.values()) clearTimeout(entry.timer);
    this.active.clear();
  }

  private async expire(key: string, userId: string, conversationId: string): Promise<void> {
    this.active.delete(key);
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

  private send(userId: string, conversationId: string, typing: boolean, memberIds: readonly string[]): void {
    const others = memberIds.filter((id) => id !== userId);
    this.notifier.toUsers(others, 'typing', { conversationId, userId, typing });
  }
}
