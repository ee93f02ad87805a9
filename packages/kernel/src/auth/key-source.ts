import type { KeyObject } from 'node:crypto';

/** Node KeyObjects: jose verifies with them directly and they import from JWK without async work. */
export type VerificationKey = KeyObject;

/**
 * Where a verifier finds the public key for a token's `kid`. The kid is untrusted input: implementations
 * only look it up in a map they filled themselves, never use it as a path, URL or query.
 */
export interface KeySource {
  publicKey(kid: string): Promise<VerificationKey | null>;
}
