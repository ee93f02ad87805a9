import { AppError, unauthorized, unavailable } from '../errors.ts';
import { looksLikeJwt } from './access-token.ts';
import { type ApiKeyResolver, looksLikeApiKey } from './api-key.ts';
import type { Authenticator, Principal } from './principal.ts';
import type { TokenVerifier } from './token-verifier.ts';

export interface AuthenticatorOptions {
  verifier: TokenVerifier;
  /** Resolves personal API keys; without it (a process that cannot reach identity's keys) they are refused. */
  apiKeys?: ApiKeyResolver | undefined;
}

/**
 * The process-wide Authenticator: access tokens are verified locally, API keys are resolved by identity.
 * A bearer that is neither (a refresh token, garbage) is a 401 like any invalid credential.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  return {
    async authenticate(bearer: string): Promise<Principal> {
      try {
        if (looksLikeJwt(bearer)) return await options.verifier.verify(bearer);
        if (looksLikeApiKey(bearer) && options.apiKeys) {
          const principal = await options.apiKeys.resolve(bearer);
          if (principal) return principal;
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        // The deny list's cache or identity did not answer: no verdict on the credential, so no 401, and
        // not a 500 either; the driver's own words (addresses) stay in the log.
        throw unavailable('Credentials cannot be checked right now; try again shortly.', error);
      }
      throw unauthorized('The bearer credential is not valid.', 'invalid_token');
    },
  };
}
