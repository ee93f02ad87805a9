import type { Cache, Unsubscribe } from './cache.ts';
import { assertAmount, assertDuration } from './duration.ts';
import { CacheClosedError } from './errors.ts';
import { type CacheLogger, consoleLogger } from './logger.ts';
import { MemoryPubSub } from './memory-pubsub.ts';

export interface MemoryCacheOptions {
  /** How often expired entries nobody reads again are dropped (default 1000 ms). */
  sweepIntervalMs?: number;
  logger?: CacheLogger;
}

/** A key holds one kind of data, as in Redis, so `delete` clears counters and member sets alike. */
type Entry =
  | { kind: 'value'; value: string; expiresAt: number | undefined }
  | { kind: 'members'; expiryByMember: Map<string, number> };

const DEFAULT_SWEEP_INTERVAL_MS = 1000;

/** The Cache for a single process: state lives in this object, so two instances never share it. */
export class MemoryCache implements Cache {
  private readonly entries = new Map<string, Entry>();
  private readonly pubsub: MemoryPubSub;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryCacheOptions = {}) {
    const sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    assertDuration(sweepIntervalMs, 'sweepIntervalMs');
    this.pubsub = new MemoryPubSub(options.logger ?? consoleLogger);
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    // The sweeper only reclaims memory; it must never be the reason the process stays alive.
    this.sweeper.unref();
  }

  /** Keys currently held, expired ones not yet swept included (for metrics and tests). */
  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<string | null> {
    this.assertOpen();
    return this.valueEntry(key, now())?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.assertOpen();
    if (ttlMs !== undefined) assertDuration(ttlMs, 'ttlMs');
    this.entries.set(key, {
      kind: 'value',
      value,
      expiresAt: ttlMs === undefined ? undefined : now() + ttlMs,
    });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    assertDuration(ttlMs, 'ttlMs');
    const at = now();
    if (this.liveEntry(key, at)) return false;
    this.entries.set(key, { kind: 'value', value, expiresAt: at + ttlMs });
    return true;
  }

  async setIfGreater(key: string, value: string): Promise<string> {
    this.assertOpen();
    const held = this.valueEntry(key, now());
    if (held && compareBytes(held.value, value) >= 0) return held.value;
    this.entries.set(key, { kind: 'value', value, expiresAt: undefined });
    return value;
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    this.entries.delete(key);
  }

  async increment(key: string, windowMs: number, amount = 1): Promise<{ count: number; ttlMs: number }> {
    this.assertOpen();
    assertDuration(windowMs, 'windowMs');
    assertAmount(amount);
    const at = now();
    const entry = this.valueEntry(key, at);
    if (!entry) {
      this.entries.set(key, { kind: 'value', value: String(amount), expiresAt: at + windowMs });
      return { count: amount, ttlMs: windowMs };
    }
    if (!/^-?\d+$/.test(entry.value)) throw new TypeError(`Key "${key}" holds a value that is not a counter`);
    const count = Number(entry.value) + amount;
    entry.value = String(count);
    // A key stored without a ttl would otherwise count forever; the Redis script does the same.
    entry.expiresAt ??= at + windowMs;
    return { count, ttlMs: Math.max(0, Math.ceil(entry.expiresAt - at)) };
  }

  async addMember(key: string, member: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    assertDuration(ttlMs, 'ttlMs');
    const at = now();
    // A set whose members have all expired is no entry at all by now, so it counts as empty.
    const entry = this.membersEntry(key, at);
    if (entry) {
      entry.expiryByMember.set(member, at + ttlMs);
      return false;
    }
    this.entries.set(key, { kind: 'members', expiryByMember: new Map([[member, at + ttlMs]]) });
    return true;
  }

  async removeMember(key: string, member: string): Promise<number> {
    this.assertOpen();
    const entry = this.membersEntry(key, now());
    if (!entry) return 0;
    entry.expiryByMember.delete(member);
    if (entry.expiryByMember.size === 0) this.entries.delete(key);
    return entry.expiryByMember.size;
  }

  async members(key: string): Promise<string[]> {
    this.assertOpen();
    return [...(this.membersEntry(key, now())?.expiryByMember.keys() ?? [])];
  }

  async publish(channel: string, message: string): Promise<void> {
    this.assertOpen();
    this.pubsub.publish(channel, message);
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    this.assertOpen();
    return this.pubsub.subscribe(channel, handler);
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.pubsub.stop();
    this.entries.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError();
  }

  /** The entry if it has not expired; an expired one is dropped on the way (lazy expiry). */
  private liveEntry(key: string, at: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (isLive(entry, at)) return entry;
    this.entries.delete(key);
    return undefined;
  }

  private valueEntry(key: string, at: number): Extract<Entry, { kind: 'value' }> | undefined {
    const entry = this.liveEntry(key, at);
    if (entry && entry.kind !== 'value') throw wrongKind(key, 'a member set', 'a value');
    return entry;
  }

  private membersEntry(key: string, at: number): Extract<Entry, { kind: 'members' }> | undefined {
    const entry = this.liveEntry(key, at);
    if (entry && entry.kind !== 'members') throw wrongKind(key, 'a value', 'a member set');
    return entry;
  }

  private sweep(): void {
    const at = now();
    for (const [key, entry] of this.entries) {
      if (!isLive(entry, at)) this.entries.delete(key);
    }
  }
}

/** Also prunes expired members, so a member set left alone still shrinks as its members expire. */
function isLive(entry: Entry, at: number): boolean {
  if (entry.kind === 'value') return entry.expiresAt === undefined || entry.expiresAt > at;
  for (const [member, expiresAt] of entry.expiryByMember) {
    if (expiresAt <= at) entry.expiryByMember.delete(member);
  }
  return entry.expiryByMember.size > 0;
}

/**
 * Byte order of the UTF-8 encodings, as Redis compares: JavaScript's own `<` compares UTF-16 code units,
 * which puts characters beyond U+FFFF before U+E000–U+FFFF.
 */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function wrongKind(key: string, holds: string, wanted: string): TypeError {
  return new TypeError(`Key "${key}" holds ${holds}, not ${wanted}`);
}

/** Monotonic, so a wall-clock adjustment cannot expire entries early or keep them alive. */
function now(): number {
  return performance.now();
}
