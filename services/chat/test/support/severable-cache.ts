import { type CacheOperation, ForwardingCache } from './forwarding-cache.ts';

/**
 * Once severed, every call fails, as if the process had died or lost the network, so nothing it does from
 * then on (heartbeats, refreshes, releases) reaches the shared state; healed, it gets through again.
 */
export class SeverableCache extends ForwardingCache {
  private severed = false;

  sever(): void {
    this.severed = true;
  }

  heal(): void {
    this.severed = false;
  }

  protected async forward<T>(_operation: CacheOperation, call: () => Promise<T>): Promise<T> {
    if (this.severed) throw new Error('cache unreachable (severed by the test)');
    return call();
  }
}
