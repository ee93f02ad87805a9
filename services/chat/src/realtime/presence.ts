import type { Cache } from '@parley/cache';
import { type Logger, lastSeenKey, presenceKey } from '@parley/kernel';
import type { Notifier } from '../domain/notifier.ts';
import type { ConversationsRepository } from '../repositories/conversations-repository.ts';

export interface PresenceOptions {
  cache: Cache;
  nodeId: string;
  conversations: ConversationsRepository;
  notifier: Notifier;
  logger: Logger;
  /** How long a process's claim on a user's presence lives without a refresh (covers crashed processes). */
  ttlMs?: number;
}

/**
 * Online/offline per user across tabs and processes (the key format is kernel's presence.ts): this process
 * counts its own sockets per user and holds one refreshed member in the user's presence set while it has
 * any; the user is online while any process holds one. Changes go to everyone sharing a conversation.
 */
export class PresenceTracker {
  private readonly local = new Map<string, number>();
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Per user, the presence work in order: a quick connect and disconnect must not interleave. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly ttlMs: number;
  private readonly refresher: NodeJS.Timeout;

  constructor(private readonly options: PresenceOptions) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.refresher = setInterval(() => void this.refresh(), Math.floor(this.ttlMs / 3));
    this.refresher.unref();
  }

  connected(userId: string): void {
    if (this.stopped) return;
    const count = (this.local.get(userId) ?? 0) + 1;
    this.local.set(userId, count);
    if (count === 1) this.reconcile(userId);
  }

  disconnected(userId: string): void {
    // After stop() the sockets are closed by the shutdown itself: announcing then would publish through a
    // Redis adapter whose clients are quitting, and its rejection would escape as an unhandled error.
    if (this.stopped) return;
    const count = (this.local.get(userId) ?? 1) - 1;
    if (count > 0) {
      this.local.set(userId, count);
      return;
    }
    this.local.delete(userId);
    this.reconcile(userId);
  }

  /**
   * Brings the user's shared presence in line with this process's sockets, after whatever presence work
   * for the user is still running here: decided when it runs, so a connect and a disconnect in quick
   * succession end with the claim matching the sockets (run side by side, they could leave a claim with
   * no socket, online until the claim expired).
   */
  private reconcile(userId: string): void {
    const previous = this.chains.get(userId) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(() => (this.local.has(userId) ? this.cameOnline(userId) : this.wentAway(userId)));
    this.chains.set(userId, next);
    void this.guard(
      next.finally(() => {
        if (this.chains.get(userId) === next) this.chains.delete(userId);
      }),
    );
  }

  /** Graceful shutdown: let go of every claim so users with no other process go offline at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.refresher);
    // Announcements started by the shutdown's own disconnects finish before the adapter below them closes.
    await Promise.allSettled([...this.inFlight]);
    const users = [...this.local.keys()];
    this.local.clear();
    await Promise.allSettled(users.map((userId) => this.wentAway(userId)));
  }

  private async cameOnline(userId: string): Promise<void> {
    const { cache, nodeId } = this.options;
    const before = await cache.members(presenceKey(userId));
    const now = new Date().toISOString();
    await cache.addMember(presenceKey(userId), nodeId, this.ttlMs);
    await cache.set(lastSeenKey(userId), now);
    if (before.length === 0) await this.announce(userId, 'online', now);
  }

  private async wentAway(userId: string): Promise<void> {
    const { cache, nodeId } = this.options;
    const now = new Date().toISOString();
    await cache.removeMember(presenceKey(userId), nodeId);
    await cache.set(lastSeenKey(userId), now);
    if ((await cache.members(presenceKey(userId))).length === 0) await this.announce(userId, 'offline', now);
  }

  private async announce(userId: string, status: 'online' | 'offline', lastSeenAt: string): Promise<void> {
    const contacts = await this.options.conversations.contactsOf(userId);
    this.options.notifier.toUsers([...contacts, userId], 'presence', { userId, status, lastSeenAt });
  }

  private async refresh(): Promise<void> {
    for (const userId of this.local.keys()) {
      await this.guard(this.options.cache.addMember(presenceKey(userId), this.options.nodeId, this.ttlMs));
    }
  }

  private async guard(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    try {
      await work;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'presence update failed');
    } finally {
      this.inFlight.delete(work);
    }
  }
}
