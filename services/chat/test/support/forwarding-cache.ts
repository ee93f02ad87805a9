import type { Cache, Unsubscribe } from '@parley/cache';

/** What a process can ask of the cache (closing aside, which is the test's cleanup). */
export type CacheOperation = Exclude<keyof Cache, 'close'>;

/**
 * Stands between one process and the cache the others share, passing each call through `forward` with
 * the operation and the key or channel it concerns: a test double decides only what happens around a call.
 */
export abstract class ForwardingCache implements Cache {
  constructor(protected readonly inner: Cache) {}

  protected abstract forward<T>(operation: CacheOperation, call: () => Promise<T>, key?: string): Promise<T>;

  get(key: string): Promise<string | null> {
    return this.forward('get', () => this.inner.get(key), key);
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.forward('set', () => this.inner.set(key, value, ttlMs), key);
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.forward('setIfAbsent', () => this.inner.setIfAbsent(key, value, ttlMs), key);
  }

  setIfGreater(key: string, value: string): Promise<string> {
    return this.forward('setIfGreater', () => this.inner.setIfGreater(key, value), key);
  }

  delete(key: string): Promise<void> {
    return this.forward('delete', () => this.inner.delete(key), key);
  }

  increment(key: string, windowMs: number, amount?: number): Promise<{ count: number; ttlMs: number }> {
    return this.forward('increment', () => this.inner.increment(key, windowMs, amount), key);
  }

  addMember(key: string, member: string, ttlMs: number): Promise<boolean> {
    return this.forward('addMember', () => this.inner.addMember(key, member, ttlMs), key);
  }

  removeMember(key: string, member: string): Promise<number> {
    return this.forward('removeMember', () => this.inner.removeMember(key, member), key);
  }

  members(key: string): Promise<string[]> {
    return this.forward('members', () => this.inner.members(key), key);
  }

  publish(channel: string, message: string): Promise<void> {
    return this.forward('publish', () => this.inner.publish(channel, message), channel);
  }

  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    return this.forward('subscribe', () => this.inner.subscribe(channel, handler), channel);
  }

  ping(): Promise<void> {
    return this.forward('ping', () => this.inner.ping());
  }

  /** Always gets through: closing is the test's cleanup, not part of what the process does. */
  close(): Promise<void> {
    return this.inner.close();
  }
}
