/** The two Cache operations the deny list needs (structural, so the kernel does not depend on the cache). */
export interface DenyListStore {
  /** What the add reports (whether the set was empty) means nothing to a deny list. */
  addMember(key: string, member: string, ttlMs: number): Promise<unknown>;
  members(key: string): Promise<string[]>;
}

export interface DenyCheck {
  userId: string;
  sessionId: string | null;
  tokenId: string;
  /** `iat` of the token, epoch seconds. */
  issuedAt: number;
}

/**
 * Revoked credentials, kept in the Cache (Redis when distributed) only as long as a token they concern
 * could still be valid. Everything about one user lives under one key as self-expiring members, so the
 * check on every request is a single round trip (`members`), usually answering an empty set:
 *
 * - `s:<sid>`  every token of that session (logout, session end, refresh-token reuse, ...);
 * - `j:<jti>`  one token;
 * - `u:<sec>`  every token of the user issued before that second (deactivation, role change, reset).
 */
export class DenyList {
  private readonly ttlMs: number;

  /** `ttlMs` must outlive every access token: the access-token lifetime plus the verifiers' clock tolerance. */
  constructor(
    private readonly store: DenyListStore,
    options: { ttlMs: number },
  ) {
    this.ttlMs = options.ttlMs;
  }

  async denySessions(userId: string, sessionIds: readonly string[]): Promise<void> {
    await Promise.all(sessionIds.map((sid) => this.store.addMember(keyOf(userId), `s:${sid}`, this.ttlMs)));
  }

  async denyToken(userId: string, tokenId: string): Promise<void> {
    await this.store.addMember(keyOf(userId), `j:${tokenId}`, this.ttlMs);
  }

  /** Denies every token of the user issued before `cutoffSeconds` (epoch seconds). */
  async denyUserBefore(userId: string, cutoffSeconds: number): Promise<void> {
    await this.store.addMember(keyOf(userId), `u:${cutoffSeconds}`, this.ttlMs);
  }

  /** The reason the token is denied, or null when it may pass. */
  async check(token: DenyCheck): Promise<'session' | 'token' | 'user' | null> {
    const members = await this.store.members(keyOf(token.userId));
    if (members.length === 0) return null;
    for (const member of members) {
      if (token.sessionId !== null && member === `s:${token.sessionId}`) return 'session';
      if (member === `j:${token.tokenId}`) return 'token';
      if (member.startsWith('u:') && token.issuedAt < Number(member.slice(2))) return 'user';
    }
    return null;
  }
}

function keyOf(userId: string): string {
  return `auth:deny:${userId}`;
}

/**
 * The user cut-off for a change made at `atMs`: every token issued in that second or before is denied.
 * Issuers give new tokens an `iat` of at least the user's cut-off, so a token issued right after the
 * change (in the same second) is not caught by it.
 */
export function cutoffSecondsFor(atMs: number): number {
  return Math.floor(atMs / 1000) + 1;
}
