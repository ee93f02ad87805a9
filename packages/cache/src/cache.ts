/**
 * The Cache port: ephemeral, shared state (rate limits, presence, deny lists, drafts) and ephemeral pub/sub.
 * In memory for one process; Redis when several processes must agree. Nothing durable lives here.
 */
export interface Cache {
  get(key: string): Promise<string | null>;
  /** Stores a value; with `ttlMs` it disappears after that many milliseconds. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Stores the value only if the key is absent; true when this call stored it (a lock or a first-writer claim). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Stores `value` unless the key already holds one that is greater or equal, and returns what the key
   * holds afterwards, decided in one atomic step: a record meant only to move forwards (a last-seen time)
   * cannot be moved back by a writer that read it before another wrote a later one, or by one whose clock
   * lags. Strings compare byte by byte as UTF-8, whatever the backend's locale; for ASCII strings of one
   * fixed format, such as ISO 8601 UTC timestamps, that is the order of the times they name. A value this
   * stores keeps no ttl, as one stored by `set` without `ttlMs`; a value it leaves in place keeps its own.
   */
  setIfGreater(key: string, value: string): Promise<string>;
  delete(key: string): Promise<void>;
  /**
   * Atomically adds `amount` (default one, a positive integer); the window's expiry starts with the first
   * increment. Returns the count and the ms left.
   */
  increment(key: string, windowMs: number, amount?: number): Promise<{ count: number; ttlMs: number }>;
  /**
   * Adds (or refreshes) a member that expires on its own after `ttlMs`. True when the set had no live
   * member before (this call made it non-empty), decided in the same atomic step as the add, so of several
   * processes adding at once exactly one learns that it was first.
   */
  addMember(key: string, member: string, ttlMs: number): Promise<boolean>;
  /**
   * Removes the member and returns how many live members are left, in one atomic step, so a caller can
   * tell that it left the set empty without another writer slipping in between.
   */
  removeMember(key: string, member: string): Promise<number>;
  /** The members not yet expired, in no particular order. */
  members(key: string): Promise<string[]>;
  publish(channel: string, message: string): Promise<void>;
  /** Delivers every message published on the channel after the returned promise resolves. */
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  /** Resolves when the backend answers; rejects otherwise (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type Unsubscribe = () => Promise<void>;
