import type { Cache, Unsubscribe } from '@parley/cache';

/**
 * Stands between one process and the cache the others share, passing each call through `forward` with
 * the key or channel it concerns: a test double decides only what happens around a call.
 */
export abstract class ForwardingCache implements Cache {
  constructor(protected readonly inner: Cache) {}

  protected abstract forward<T>(call: () => Promise<T>, key?: string): Promise<T>;

  get(key: string): Promise<string | null> {
    return this.forward(() => this.inner.get(key), key);
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.forward(() => this.inner.set(key, value, ttlMs), key);
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.forward(() => this.inner.setIfAbsent(key, value, ttlMs), key);
  }

  setIfGreater(key: string, value: string): Promise<string> {
    return this.forward(() => this.inner.setIfGreater(key, value), key);
  }

  delete(key: string): Promise<void> {
    return this.forward(() => this.inner.delete(key), key);
  }

  increment(key: string, windowMs: number, amount?: number): Promise<{ count: number; ttlMs: number }> {
    return this.forward(() => this.inner.increment(key, windowMs, amount), key);
  }

  addMember(key: string, member: string, ttlMs: number): Promise<boolean> {
    return this.forward(() => this.inner.addMember(key, member, ttlMs), key);
  }

  removeMember(key: string, member: string): Promise<number> {
    return this.forward(() => this.inner.removeMember(key, member), key);
  }

  members(key: string): Promise<string[]> {
    return this.forward(() => this.inner.members(key), key);
  }

  publish(channel: string, message: string): Promise<void> {
    return this.forward(() => this.inner.publish(channel, message), channel);
  }

  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    return this.forward(() => this.inner.subscribe(channel, handler), channel);
  }

  ping(): Promise<void> {
    return this.forward(() => this.inner.ping());
  }

  /** Always gets through: closing is the test's cleanup, not part of what the process does. */
  close(): Promise<void> {
    return this.inner.close();
  }
}
