import type { Redis } from 'ioredis';
import type { Unsubscribe } from './cache.ts';
import { deliver } from './deliver.ts';
import type { CacheLogger } from './logger.ts';
import { closeRedisConnection } from './redis-connection.ts';

interface Listener {
  handler: (message: string) => void;
  active: boolean;
}

/** The local listeners of one Redis channel; `confirmed` settles when Redis answered the SUBSCRIBE. */
interface Channel {
  listeners: Set<Listener>;
  confirmed: Promise<void>;
}

/**
 * The subscribing side of Redis pub/sub. It owns a connection of its own, opened on the first subscribe:
 * a connection in subscriber mode cannot run other commands, and a process that never subscribes should
 * not hold a second connection. One SUBSCRIBE per channel, fanned out to every local handler.
 */
export class RedisSubscriber {
  private connection: Redis | undefined;
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly open: () => Redis,
    private readonly logger: CacheLogger,
  ) {}

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    const listener: Listener = { handler, active: true };
    const state = this.channels.get(channel) ?? this.startChannel(channel);
    state.listeners.add(listener);
    try {
      await state.confirmed;
    } catch (error) {
      state.listeners.delete(listener);
      throw error;
    }
    return () => this.unsubscribe(channel, state, listener);
  }

  async close(): Promise<void> {
    this.channels.clear();
    if (this.connection) await closeRedisConnection(this.connection);
  }

  private startChannel(channel: string): Channel {
    const connection = this.connect();
    const state: Channel = {
      listeners: new Set(),
      confirmed: connection.subscribe(channel).then(() => undefined),
    };
    this.channels.set(channel, state);
    // Forget a failed channel at once, so the next subscribe tries again instead of reusing the failure.
    state.confirmed.catch(() => {
      if (this.channels.get(channel) === state) this.channels.delete(channel);
    });
    return state;
  }

  private async unsubscribe(channel: string, state: Channel, listener: Listener): Promise<void> {
    if (!listener.active) return;
    listener.active = false;
    state.listeners.delete(listener);
    if (state.listeners.size > 0 || this.channels.get(channel) !== state) return;
    this.channels.delete(channel);
    // Commands on one connection run in order, so a SUBSCRIBE to this channel issued after this point
    // reaches Redis after the UNSUBSCRIBE and wins.
    await this.connection?.unsubscribe(channel);
  }

  private connect(): Redis {
    if (this.connection) return this.connection;
    const connection = this.open();
    connection.on('message', (channel: string, message: string) => this.dispatch(channel, message));
    this.connection = connection;
    return connection;
  }

  private dispatch(channel: string, message: string): void {
    const state = this.channels.get(channel);
    if (!state) return;
    // A snapshot, so a handler that subscribes or unsubscribes does not change this delivery.
    for (const listener of [...state.listeners]) {
      if (listener.active) deliver(listener.handler, message, channel, this.logger);
    }
  }
}
