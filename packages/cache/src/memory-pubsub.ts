import type { Unsubscribe } from './cache.ts';
import { deliver } from './deliver.ts';
import type { CacheLogger } from './logger.ts';

interface Listener {
  handler: (message: string) => void;
  active: boolean;
}

/** In-process pub/sub with the delivery guarantees of the Redis adapter: asynchronous, in publish order. */
export class MemoryPubSub {
  private readonly channels = new Map<string, Set<Listener>>();
  private stopped = false;

  constructor(private readonly logger: CacheLogger) {}

  publish(channel: string, message: string): void {
    const listeners = this.channels.get(channel);
    if (!listeners) return;
    // Snapshot now so a subscriber added after this publish does not receive it; microtasks run in
    // queue order, which keeps messages in publish order.
    const snapshot = [...listeners];
    queueMicrotask(() => {
      for (const listener of snapshot) {
        if (listener.active && !this.stopped) deliver(listener.handler, message, channel, this.logger);
      }
    });
  }

  subscribe(channel: string, handler: (message: string) => void): Unsubscribe {
    const listener: Listener = { handler, active: true };
    let listeners = this.channels.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.channels.set(channel, listeners);
    }
    listeners.add(listener);
    return async () => this.remove(channel, listener);
  }

  stop(): void {
    this.stopped = true;
    this.channels.clear();
  }

  private remove(channel: string, listener: Listener): void {
    listener.active = false;
    const listeners = this.channels.get(channel);
    if (!listeners) return;
    listeners.delete(listener);
    if (listeners.size === 0) this.channels.delete(channel);
  }
}
