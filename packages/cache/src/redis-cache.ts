import type { Redis } from 'ioredis';
import type { Cache, Unsubscribe } from './cache.ts';
import { assertAmount, assertDuration } from './duration.ts';
import { CacheClosedError } from './errors.ts';
import { type CacheLogger, consoleLogger } from './logger.ts';
import { closeRedisConnection, openRedisConnection } from './redis-connection.ts';
import { RedisSubscriber } from './redis-pubsub.ts';
import { integer, integerPair, stringList, text } from './redis-replies.ts';
import { ADD_MEMBER, INCREMENT, LIVE_MEMBERS, REMOVE_MEMBER, SET_IF_GREATER } from './redis-scripts.ts';

export interface RedisCacheOptions {
  url: string;
  /** Prepended to every key and every channel, so deployments or test runs can share one Redis. */
  keyPrefix?: string;
  logger?: CacheLogger;
  /** Longest a command may take, time spent waiting for a connection included (default 5000 ms). */
  commandTimeoutMs?: number;
}

/** The Cache shared by every process pointed at the same Redis (and key prefix). */
export class RedisCache implements Cache {
  private readonly client: Redis;
  private readonly subscriber: RedisSubscriber;
  private readonly prefix: string;
  private closed = false;

  constructor(options: RedisCacheOptions) {
    const logger = options.logger ?? consoleLogger;
    const commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    assertDuration(commandTimeoutMs, 'commandTimeoutMs');
    this.prefix = options.keyPrefix ?? '';
    const open = (name: string) => openRedisConnection({ url: options.url, name, commandTimeoutMs, logger });
    this.client = open('parley-cache');
    this.subscriber = new RedisSubscriber(() => open('parley-cache-subscriber'), logger);
  }

  async get(key: string): Promise<string | null> {
    this.assertOpen();
    return this.client.get(this.key(key));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.assertOpen();
    if (ttlMs === undefined) {
      await this.client.set(this.key(key), value);
      return;
    }
    assertDuration(ttlMs, 'ttlMs');
    await this.client.set(this.key(key), value, 'PX', ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    assertDuration(ttlMs, 'ttlMs');
    return (await this.client.set(this.key(key), value, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async setIfGreater(key: string, value: string): Promise<string> {
    this.assertOpen();
    return text(await SET_IF_GREATER.run(this.client, [this.key(key)], [value]), 'setIfGreater');
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    await this.client.del(this.key(key));
  }

  async increment(key: string, windowMs: number, amount = 1): Promise<{ count: number; ttlMs: number }> {
    this.assertOpen();
    assertDuration(windowMs, 'windowMs');
    assertAmount(amount);
    const reply = await INCREMENT.run(this.client, [this.key(key)], [windowMs, amount]);
    const [count, ttlMs] = integerPair(reply, 'increment');
    return { count, ttlMs };
  }

  async addMember(key: string, member: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    assertDuration(ttlMs, 'ttlMs');
    const livingBefore = integer(
      await ADD_MEMBER.run(this.client, [this.key(key)], [member, ttlMs]),
      'addMember',
    );
    return livingBefore === 0;
  }

  async removeMember(key: string, member: string): Promise<number> {
    this.assertOpen();
    return integer(await REMOVE_MEMBER.run(this.client, [this.key(key)], [member]), 'removeMember');
  }

  async members(key: string): Promise<string[]> {
    this.assertOpen();
    return stringList(await LIVE_MEMBERS.run(this.client, [this.key(key)], []), 'members');
  }

  async publish(channel: string, message: string): Promise<void> {
    this.assertOpen();
    await this.client.publish(this.key(channel), message);
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    this.assertOpen();
    return this.subscriber.subscribe(this.key(channel), handler);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([closeRedisConnection(this.client), this.subscriber.close()]);
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }

  /** Also used for channels: the prefix isolates pub/sub just as it isolates keys. */
  private key(name: string): string {
    return this.prefix + name;
  }
}
