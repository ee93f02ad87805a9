import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { newId } from '@parley/kernel';
import type { JWK } from 'jose';

/** A signing key as storage keeps it: JWKs and ISO times, so it survives JSON files and jsonb alike. */
export interface StoredSigningKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: string;
  retiredAt: string | null;
}

/** The public half as published in the JWKS: never more than these members. */
export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
  createdAt: Date;
  retiredAt: Date | null;
}

/** A fresh Ed25519 key pair with a random, path-safe kid. */
export function generateSigningKey(now = new Date()): StoredSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = newId('key');
  return {
    kid,
    privateJwk: privateKey.export({ format: 'jwk' }) as JWK,
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'EdDSA', use: 'sig' },
    createdAt: now.toISOString(),
    retiredAt: null,
  };
}

export function toSigningKey(stored: StoredSigningKey): SigningKey {
  return {
    kid: stored.kid,
    privateKey: createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: stored.privateJwk.x, d: stored.privateJwk.d },
      format: 'jwk',
    }),
    publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: stored.publicJwk.x }, format: 'jwk' }),
    publicJwk: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: String(stored.publicJwk.x),
      kid: stored.kid,
      alg: 'EdDSA',
      use: 'sig',
    },
    createdAt: new Date(stored.createdAt),
    retiredAt: stored.retiredAt ? new Date(stored.retiredAt) : null,
  };
}

export interface RotateOptions {
  /** Rotate only when the active key was created before this instant (null: rotate regardless). */
  unlessActiveSince: Date | null;
  /** Retired keys retired before this instant are dropped: no token they signed is still valid. */
  pruneRetiredBefore: Date;
  now: Date;
}

/**
 * Where signing keys live: a 0600 file in the data dir (embedded) or identity's schema (distributed).
 * `rotate` is atomic across the processes sharing the storage, so several identity nodes starting together
 * agree on one active key.
 */
export interface SigningKeyStorage {
  load(): Promise<StoredSigningKey[]>;
  rotate(candidate: StoredSigningKey, options: RotateOptions): Promise<StoredSigningKey[]>;
}

/** The pure part of rotation, shared by both storages: given the current keys, the keys after. */
export function planRotation(
  current: StoredSigningKey[],
  candidate: StoredSigningKey,
  options: RotateOptions,
): { keys: StoredSigningKey[]; added: boolean } {
  const kept = current.filter(
    (key) => key.retiredAt === null || new Date(key.retiredAt) >= options.pruneRetiredBefore,
  );
  const active = kept.filter((key) => key.retiredAt === null);
  const fresh =
    options.unlessActiveSince !== null &&
    active.some((key) => new Date(key.createdAt) >= (options.unlessActiveSince as Date));
  if (fresh) return { keys: kept, added: false };
  const retiredAt = options.now.toISOString();
  return {
    keys: [...kept.map((key) => (key.retiredAt === null ? { ...key, retiredAt } : key)), candidate],
    added: true,
  };
}
