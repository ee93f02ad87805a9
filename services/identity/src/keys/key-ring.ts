import type { KeyObject } from 'node:crypto';
import type { KeySource } from '@parley/kernel';
import {
  generateSigningKey,
  type PublicJwk,
  type SigningKey,
  type SigningKeyStorage,
  toSigningKey,
} from './signing-key.ts';

export interface KeyRingOptions {
  /** The active key is replaced at start once it is older than this. */
  maxAgeMs: number;
  /** How long a retired key stays published: longer than any token it signed can live. */
  retainMs: number;
  /** Unknown kids reload the storage at most this often (another node may have rotated). */
  reloadCooldownMs?: number;
  now?: () => number;
}

/**
 * Identity's signing keys in memory: the active one signs, all unexpired ones verify and are published
 * in the JWKS. It is also the in-process KeySource of the kernel verifier.
 */
export class KeyRing implements KeySource {
  private keys: SigningKey[] = [];
  private lastReload = 0;
  private readonly now: () => number;

  private constructor(
    private readonly storage: SigningKeyStorage,
    private readonly options: KeyRingOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Loads the keys, creating the first one (or replacing one past its age) as needed. */
  static async open(storage: SigningKeyStorage, options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(storage, options);
    const now = ring.now();
    ring.install(
      await storage.rotate(generateSigningKey(new Date(now)), {
        unlessActiveSince: new Date(now - options.maxAgeMs),
        pruneRetiredBefore: new Date(now - options.retainMs),
        now: new Date(now),
      }),
    );
    return ring;
  }

  /** Makes a new key the signing one; the previous public keys stay published until their tokens expire. */
  async rotate(): Promise<string> {
    const now = this.now();
    const candidate = generateSigningKey(new Date(now));
    this.install(
      await this.storage.rotate(candidate, {
        unlessActiveSince: null,
        pruneRetiredBefore: new Date(now - this.options.retainMs),
        now: new Date(now),
      }),
    );
    return candidate.kid;
  }

  signingKey(): { kid: string; privateKey: KeyObject } {
    const active = this.keys.filter((key) => key.retiredAt === null).at(-1) ?? this.keys.at(-1);
    if (!active) throw new Error('no signing key loaded');
    return { kid: active.kid, privateKey: active.privateKey };
  }

  async publicKey(kid: string): Promise<KeyObject | null> {
    const known = this.find(kid);
    if (known) return known.publicKey;
    const now = this.now();
    if (now - this.lastReload < (this.options.reloadCooldownMs ?? 10_000)) return null;
    this.lastReload = now;
    this.install(await this.storage.load());
    return this.find(kid)?.publicKey ?? null;
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: this.published().map((key) => key.publicJwk) };
  }

  private find(kid: string): SigningKey | undefined {
    return this.published().find((key) => key.kid === kid);
  }

  private published(): SigningKey[] {
    const horizon = this.now() - this.options.retainMs;
    return this.keys.filter((key) => key.retiredAt === null || key.retiredAt.getTime() >= horizon);
  }

  private install(stored: Awaited<ReturnType<SigningKeyStorage['load']>>): void {
    this.keys = stored.map(toSigningKey).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }
}
