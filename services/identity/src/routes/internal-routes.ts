import { API_KEY_UNKNOWN } from '@parley/contracts';
import { AppError, requireServiceToken, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import type { ApiKeyService } from '../domain/api-key-service.ts';
import type { Clock } from '../domain/clock.ts';
import { problems, RoleSchema, SecretTokenSchema } from './schemas.ts';

const ResolvedApiKey = Type.Object({
  userId: Type.String(),
  role: RoleSchema,
  /** The key's id: what a deletion puts on the deny list. */
  credentialId: Type.String(),
  /** Epoch ms, or null for a key without expiry. */
  expiresAt: Type.Union([Type.Integer(), Type.Null()]),
  /**
   * Epoch seconds on identity's clock, taken before the key was read: what the asker dates its kept answer
   * by against the deny list's cut-offs, which are in identity's seconds too (its own clock may differ).
   */
  checkedAt: Type.Integer(),
});

/**
 * What other services' processes ask of identity: whose a personal API key is. Only identity holds the
 * keys' hashes; a process running chat or bots alone resolves keys here (and caches the answer, checked
 * against the deny list on every use). Protected by the shared service token, hidden from the public API.
 */
export function registerInternalRoutes(
  app: TypedApp,
  apiKeys: ApiKeyService,
  internalToken: string,
  clock: Clock,
): void {
  const guard = requireServiceToken(internalToken);

  app.post(
    '/internal/v1/identity/api-keys/resolve',
    {
      onRequest: guard,
      schema: {
        hide: true,
        body: Type.Object({ key: SecretTokenSchema }, { additionalProperties: false }),
        response: { 200: ResolvedApiKey, ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const checkedAt = Math.floor(clock().getTime() / 1000);
      const principal = await apiKeys.resolve(request.body.key);
      // Unknown, expired, or its owner deactivated: the same answer for all, as for the key's own bearer.
      if (!principal) throw new AppError(404, API_KEY_UNKNOWN, 'No such API key.');
      return {
        userId: principal.userId,
        role: principal.role,
        credentialId: principal.credentialId,
        expiresAt: principal.expiresAt,
        checkedAt,
      };
    },
  );
}
