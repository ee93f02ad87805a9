import { createHash } from 'node:crypto';
import { API_KEY_UNKNOWN } from '@parley/contracts';
import {
  type ApiKeyResolver,
  type DenyList,
  type Principal,
  ROLES,
  unavailable,
  VerifiedTokenCache,
} from '@parley/kernel';

/** Most keys kept, resolved or unknown. */
const CAPACITY = 10_000;

export interface RemoteApiKeysOptions {
  /** Identity's nodes (PARLEY_UPSTREAM_IDENTITY), asked in turn until one answers. */
  identityUrls: readonly string[];
  internalToken: string;
  /** The shared deny list identity writes when a key is deleted, its owner deactivated or reset. */
  denyList: DenyList;
  /** How long a resolved key is used without asking identity again (default 60 s). */
  cacheMs?: number;
  /**
   * How long a key identity does not know is refused without asking again (default 10 s): a script left
   * running with a deleted key, retrying in a loop, costs identity one lookup per period, not one per try.
   */
  unknownCacheMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * API keys in a process that does not run identity (chat or bots on their own nodes): identity, which
 * alone holds the keys' hashes, is asked whose a key is over its internal API, and the answer is kept for
 * a minute so a script's every request does not cost a round trip to identity. A kept answer is checked
 * against the shared deny list on every use, as access tokens are, so a deleted key, a deactivated owner
 * or a changed role takes effect at once rather than when the entry expires.
 */
export class RemoteApiKeys implements ApiKeyResolver {
  /**
   * Kept answers as verified tokens are kept: `issuedAt` is when identity checked the key, in seconds on
   * identity's clock (the cut-offs' clock, not this process's), so a later cut-off denies the entry.
   */
  private readonly resolved = new VerifiedTokenCache(CAPACITY);
  /** Hashes of keys identity answered it does not know, with when that answer expires. */
  private readonly unknown = new Map<string, number>();
  /** Lookups under way, by hash: a burst of requests with one new key asks identity once. */
  private readonly asking = new Map<string, Promise<Principal | null>>();
  private readonly cacheMs: number;
  private readonly unknownCacheMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: RemoteApiKeysOptions) {
    this.cacheMs = options.cacheMs ?? 60_000;
    this.unknownCacheMs = options.unknownCacheMs ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  async resolve(key: string): Promise<Principal | null> {
    // Kept under the key's hash: a heap dump of this process shows no usable key.
    const id = createHash('sha256').update(key).digest('base64url');
    const kept = this.resolved.get(id, this.now());
    if (kept) {
      const denied = await this.options.denyList.check({
        userId: kept.principal.userId,
        sessionId: null,
        tokenId: kept.principal.credentialId,
        issuedAt: kept.issuedAt,
      });
      if (!denied) return kept.principal;
    }
    const unknownUntil = this.unknown.get(id);
    if (unknownUntil !== undefined) {
      if (unknownUntil > this.now()) return null;
      this.unknown.delete(id);
    }
    const under = this.asking.get(id);
    if (under) return under;
    const lookup = this.lookUp(id, key).finally(() => this.asking.delete(id));
    this.asking.set(id, lookup);
    return lookup;
  }

  private async lookUp(id: string, key: string): Promise<Principal | null> {
    const resolvedAt = this.now();
    const answer = await this.ask(key);
    if (!answer) {
      // Not there now: an expired entry was dropped before asking, and lookups of one key are shared.
      this.unknown.set(id, resolvedAt + this.unknownCacheMs);
      // Oldest first (insertion order): random keys sprayed at this process cannot grow it without bound.
      while (this.unknown.size > CAPACITY) {
        const oldest = this.unknown.keys().next().value;
        if (oldest === undefined) break;
        this.unknown.delete(oldest);
      }
      return null;
    }
    const { principal, checkedAt } = answer;
    this.resolved.set(id, {
      principal,
      issuedAt: checkedAt,
      expiresAt: Math.min(resolvedAt + this.cacheMs, principal.expiresAt ?? Number.POSITIVE_INFINITY),
    });
    return principal;
  }

  private async ask(key: string): Promise<{ principal: Principal; checkedAt: number } | null> {
    let failure: unknown;
    for (const base of this.options.identityUrls) {
      let response: Response;
      try {
        response = await fetch(new URL('/internal/v1/identity/api-keys/resolve', base), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.options.internalToken}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ key }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        failure = error; // this node is unreachable: the next one may answer
        continue;
      }
      if (response.status === 400) {
        await response.body?.cancel(); // its connection goes back to the pool
        return null;
      }
      if (response.status === 404) {
        if ((await problemCode(response)) === API_KEY_UNKNOWN) return null;
        // A 404 that does not name the key unknown comes from a node without identity's route: a
        // misdirected PARLEY_UPSTREAM_IDENTITY must not turn into every key refused (and kept refused).
        failure = new Error(
          `${base} answered 404 without naming the key unknown: is PARLEY_UPSTREAM_IDENTITY pointing at identity?`,
        );
        continue;
      }
      if (!response.ok) {
        failure = new Error(`identity answered ${response.status}`);
        await response.body?.cancel();
        continue;
      }
      return toPrincipal(await response.json());
    }
    throw unavailable('API keys cannot be checked right now; try again shortly.', failure);
  }
}

/** The `code` of a problem+json answer, or undefined when the body is not one. */
async function problemCode(response: Response): Promise<unknown> {
  try {
    return ((await response.json()) as { code?: unknown } | null)?.code;
  } catch {
    return undefined;
  }
}

function toPrincipal(body: unknown): { principal: Principal; checkedAt: number } {
  const answer = body as {
    userId?: unknown;
    role?: unknown;
    credentialId?: unknown;
    expiresAt?: unknown;
    checkedAt?: unknown;
  };
  if (
    typeof answer.userId !== 'string' ||
    typeof answer.credentialId !== 'string' ||
    !ROLES.includes(answer.role as Principal['role']) ||
    !(answer.expiresAt === null || typeof answer.expiresAt === 'number') ||
    !Number.isInteger(answer.checkedAt)
  ) {
    throw unavailable('Identity gave an answer about an API key that could not be read.');
  }
  return {
    principal: {
      userId: answer.userId,
      role: answer.role as Principal['role'],
      sessionId: null,
      credentialId: answer.credentialId,
      kind: 'api_key',
      expiresAt: answer.expiresAt,
    },
    checkedAt: answer.checkedAt as number,
  };
}
