import {
  API_KEY_PREFIX,
  type ApiKeyResolver,
  badRequest,
  conflict,
  forbidden,
  looksLikeApiKey,
  newId,
  newSecretToken,
  type Principal,
} from '@parley/kernel';
import type { ApiKeyRow } from '../schema/api-keys.ts';
import type { IdentityContext } from './identity-context.ts';
import { hashSecret } from './secrets.ts';

export interface ApiKeyView {
  id: string;
  name: string;
  /** The first characters of the key, to tell keys apart; the key itself is shown only once. */
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

const MAX_KEYS_PER_USER = 50;
const LAST_USED_PRECISION_MS = 60_000;

function toView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.keyPrefix,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

/** Personal API keys: stored as SHA-256 hashes, shown once, usable as a bearer on REST. */
export class ApiKeyService implements ApiKeyResolver {
  constructor(private readonly context: IdentityContext) {}

  async create(
    principal: Principal,
    input: { name: string; expiresAt?: string },
  ): Promise<ApiKeyView & { key: string }> {
    // A leaked key must not be able to mint more keys that outlive its own revocation.
    if (principal.kind !== 'access_token')
      throw forbidden('API keys can only be created from a signed-in session.');
    const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
    // RFC 3339 (the schema's date-time) allows a leap second, :60, which Date cannot hold: it would be
    // an Invalid Date that passes the comparison below and fails only when stored.
    if (expiresAt && Number.isNaN(expiresAt.getTime())) {
      throw badRequest('The expiry is not a time that can be stored.', [
        { path: 'body.expiresAt', message: 'must be a valid date and time (no leap second)' },
      ]);
    }
    if (expiresAt && expiresAt.getTime() <= this.context.clock().getTime()) {
      throw badRequest('The expiry must lie in the future.', [
        { path: 'body.expiresAt', message: 'must be in the future' },
      ]);
    }
    const key = `${API_KEY_PREFIX}${newSecretToken(32)}`;
    const row = await this.context.database.db.transaction(async (tx) => {
      // Counted and inserted under one lock per user: parallel creates cannot all see room for one more.
      await this.context.apiKeys.lockForUser(tx, principal.userId);
      const existing = await this.context.apiKeys.listForUser(tx, principal.userId);
      if (existing.length >= MAX_KEYS_PER_USER) {
        throw conflict(
          `You already have ${MAX_KEYS_PER_USER} API keys; delete one first.`,
          'too_many_api_keys',
        );
      }
      return this.context.apiKeys.insert(tx, {
        id: newId('key'),
        userId: principal.userId,
        name: input.name.trim(),
        keyHash: hashSecret(key),
        keyPrefix: key.slice(0, API_KEY_PREFIX.length + 6),
        expiresAt,
      });
    });
    return { ...toView(row), key };
  }

  async list(userId: string): Promise<ApiKeyView[]> {
    return (await this.context.apiKeys.listForUser(this.context.database.db, userId)).map(toView);
  }

  /**
   * Deletes the key; other processes may hold it resolved (cached), so it goes on the deny list they check
   * on every use before the deletion commits: if that fails, the key is left as it was (the caller may try
   * again) rather than deleted here and still taken elsewhere. Only a key of the caller's that was there is
   * denied: every request of the user reads their whole deny set, which made-up ids must not grow.
   */
  async delete(userId: string, id: string): Promise<boolean> {
    return this.context.database.db.transaction(async (tx) => {
      if (!(await this.context.apiKeys.delete(tx, userId, id))) return false;
      await this.context.denyList.denyToken(userId, id);
      return true;
    });
  }

  async resolve(key: string): Promise<Principal | null> {
    if (!looksLikeApiKey(key)) return null;
    const db = this.context.database.db;
    const found = await this.context.apiKeys.findByHash(db, hashSecret(key));
    const now = this.context.clock();
    if (!found?.active) return null;
    if (found.key.expiresAt && found.key.expiresAt.getTime() <= now.getTime()) return null;
    await this.context.apiKeys.touch(db, found.key.id, now, new Date(now.getTime() - LAST_USED_PRECISION_MS));
    return {
      userId: found.userId,
      role: found.role,
      sessionId: null,
      credentialId: found.key.id,
      kind: 'api_key',
      expiresAt: found.key.expiresAt?.getTime() ?? null,
    };
  }
}
