import type { Principal } from './principal.ts';

/** Personal API keys start with this, so they are recognisable (secret scanners, logs) and never parsed as JWTs. */
export const API_KEY_PREFIX = 'prly_';

export function looksLikeApiKey(bearer: string): boolean {
  return bearer.startsWith(API_KEY_PREFIX) && bearer.length <= 200;
}

/** Turns an API key into its owner's principal, or null when it is unknown, expired or its owner inactive. */
export interface ApiKeyResolver {
  resolve(key: string): Promise<Principal | null>;
}
