import { createHash, createHmac } from 'node:crypto';

/** Tokens we hand out carry 256 random bits, so a plain SHA-256 is a sufficient at-rest hash for them. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * The refresh token that replaces `parent` in a session: derived, not random, so that a parallel retry
 * presenting the same parent within the grace period receives the very same child, and a family keeps
 * one chain. Unpredictable without the session's secret, which never leaves the database.
 */
export function deriveChildToken(sessionSecret: string, parent: string): string {
  return createHmac('sha256', sessionSecret).update(parent, 'utf8').digest('base64url');
}
