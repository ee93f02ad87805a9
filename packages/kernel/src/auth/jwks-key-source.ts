import { createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import type { KeySource, VerificationKey } from './key-source.ts';

export interface JwksKeySourceOptions {
  url: string;
  /** Keys are re-fetched after this long (default 5 min). */
  maxAgeMs?: number;
  /** An unknown kid triggers a re-fetch at most this often (default 30 s), so junk kids cannot flood identity. */
  cooldownMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * Public keys fetched from identity's /.well-known/jwks.json, for processes that do not run identity. Only
 * Ed25519 keys meant for signatures are kept; a failed fetch keeps the keys already known, so a short
 * identity outage does not log everyone out.
 */
export class JwksKeySource implements KeySource {
  private keys = new Map<string, VerificationKey>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: JwksKeySourceOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.fetchFn = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  async publicKey(kid: string): Promise<VerificationKey | null> {
    const age = this.now() - this.fetchedAt;
    const known = this.keys.get(kid);
    if (known && age < this.maxAgeMs) return known;
    // A fetch already under way (the first one, at start) may bring this kid: wait for it rather than refuse.
    if (this.inFlight) await this.inFlight.catch(() => undefined);
    else if (known || age >= this.cooldownMs) await this.refresh().catch(() => undefined);
    return this.keys.get(kid) ?? null;
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async load(): Promise<void> {
    // Counted as an attempt even when it fails, so a down identity is not hammered by every request.
    this.fetchedAt = this.now();
    const response = await this.fetchFn(this.options.url, {
      signal: AbortSignal.timeout(this.timeoutMs),
      headers: { accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`JWKS fetch answered ${response.status}`);
    const body = (await response.json()) as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error('JWKS document has no keys');
    const next = new Map<string, VerificationKey>();
    for (const jwk of body.keys as JWK[]) {
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.kid !== 'string') continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if ('d' in jwk || typeof jwk.x !== 'string') continue;
      try {
        next.set(jwk.kid, createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' }));
      } catch {
        // a malformed key is skipped; the others still verify
      }
    }
    this.keys = next;
  }
}
