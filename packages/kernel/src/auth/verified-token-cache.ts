import type { Principal } from './principal.ts';

interface Entry {
  principal: Principal;
  issuedAt: number;
  /** Epoch ms after which the entry is useless (the token's exp plus the clock tolerance). */
  expiresAt: number;
}

/**
 * A bounded LRU of tokens whose signature and claims already checked out, keyed by the token itself, so a
 * busy client costs one Map lookup instead of an EdDSA verification per request. It never answers for the
 * deny list: callers check revocation on every request, cached or not.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity: number) {}

  get(token: string, now: number): Entry | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    if (entry.expiresAt <= now) return undefined;
    this.entries.set(token, entry);
    return entry;
  }

  set(token: string, entry: Entry): void {
    if (this.capacity <= 0) return;
    this.entries.delete(token);
    this.entries.set(token, entry);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
