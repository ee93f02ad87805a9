import type { Cache, Unsubscribe } from '@parley/cache';

/**
 * Stands between one process and the cache the others share: once severed, every call fails, as if the
 * process had died or lost the network, so nothing it does from then on (heartbeats, refreshes, releases)
 * reaches the shared state; healed, it gets through again.
 */
export class SeverableCache implements Cache {
  private severed = false;

  constructor(private readonly inner: Cache) {}

  sever(): void {
    this.severed = true;
  }

  heal(): void {
    this.severed = false;
  }

  get(key: string): Promise<string | null> {
    return this.reach(() => this.inner.get(key));
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.reach(() => this.inner.set(key, value, ttlMs));
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.reach(() => this.inner.setIfAbsent(key, value, ttlMs));
  }

  delete(key: string): Promise<void> {
    return this.reach(() => this.inner.delete(key));
  }

  increment(key: string, windowMs: number, amount?: number): Promise<{ count: number; ttlMs: number }> {
    return this.reach(() => this.inner.increment(key, windowMs, amount));
  }

  addMember(key: string, member: string, ttlMs: number): Promise<boolean> {
    return this.reach(() => this.inner.addMember(key, member, ttlMs));
  }

  removeMember(key: string, member: string): Promise<number> {
    return this.reach(() => this.inner.removeMember(key, member));
  }

  members(key: string): Promise<string[]> {
    return this.reach(() => this.inner.members(key));
  }

  publish(channel: string, message: string): Promise<void> {
    return this.reach(() => this.inner.publish(channel, message));
  }

  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    return this.reach(() => this.inner.subscribe(channel, handler));
  }

  ping(): Promise<void> {
    return this.reach(() => this.inner.ping());
  }

  /** Always gets through: closing is the test's cleanup, not part of what the process does. */
  close(): Promise<void> {
    return this.inner.close();
  }

  private async reach<T>(call: () => Promise<T>): Promise<T> {
    if (this.severed) throw new Error('cache unreachable (severed by the test)');
    return call();
  }
}
