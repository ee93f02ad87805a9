import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import { AppError, unauthorized } from '../errors.ts';
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TYPE,
  ACCESS_TOKEN_USE,
  isRole,
  isWellFormedKeyId,
  looksLikeJwt,
} from './access-token.ts';
import type { DenyList } from './deny-list.ts';
import type { KeySource } from './key-source.ts';
import type { Principal } from './principal.ts';
import { VerifiedTokenCache } from './verified-token-cache.ts';

export interface TokenVerifierOptions {
  keys: KeySource;
  denyList: DenyList;
  issuer: string;
  audience: string;
  /** Allowed clock skew between issuer and verifier for exp/nbf (default 5 s). */
  clockToleranceSeconds?: number;
  /** Verified tokens remembered (default 10,000; 0 turns the cache off). */
  cacheSize?: number;
  now?: () => number;
}

const invalid = (detail = 'The access token is not valid.') => unauthorized(detail, 'invalid_token');
const expired = () => unauthorized('The access token has expired; refresh it.', 'token_expired');
const revoked = () => unauthorized('The access token has been revoked.', 'token_revoked');

/**
 * Verifies Parley access tokens locally in any service (RFC 8725): EdDSA only, the key picked by `kid`
 * from a key source (never from `jku`, `x5u` or `jwk` headers, which are ignored), then exp, nbf, iss, aud
 * and the access-token type. Verified tokens are cached until they expire; the deny list is consulted on
 * every call, so a revocation bites on the very next request.
 */
export class TokenVerifier {
  private readonly cache: VerifiedTokenCache;
  private readonly tolerance: number;
  private readonly now: () => number;

  constructor(private readonly options: TokenVerifierOptions) {
    this.cache = new VerifiedTokenCache(options.cacheSize ?? 10_000);
    this.tolerance = options.clockToleranceSeconds ?? 5;
    this.now = options.now ?? Date.now;
  }

  async verify(token: string): Promise<Principal> {
    const now = this.now();
    const cached = this.cache.get(token, now);
    const { principal, issuedAt } = cached ?? (await this.verifySignatureAndClaims(token, now));
    const denied = await this.options.denyList.check({
      userId: principal.userId,
      sessionId: principal.sessionId,
      tokenId: principal.credentialId,
      issuedAt,
    });
    if (denied) throw revoked();
    return principal;
  }

  private async verifySignatureAndClaims(
    token: string,
    now: number,
  ): Promise<{ principal: Principal; issuedAt: number }> {
    if (!looksLikeJwt(token)) throw invalid();
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalid();
    }
    // Checked before any key lookup: the algorithm is ours to choose, never the token's.
    if (header.alg !== ACCESS_TOKEN_ALGORITHM)
      throw invalid('The token is not signed with an accepted algorithm.');
    if (!isWellFormedKeyId(header.kid)) throw invalid('The token names no known signing key.');
    const key = await this.options.keys.publicKey(header.kid);
    if (!key) throw invalid('The token names no known signing key.');

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: ACCESS_TOKEN_TYPE,
        clockTolerance: this.tolerance,
        currentDate: new Date(now),
        requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw expired();
      if (error instanceof AppError) throw error;
      throw invalid();
    }
    const { sub, sid, jti, iat, exp, role } = payload as JWTPayload & { sid?: unknown; role?: unknown };
    if (
      payload.token_use !== ACCESS_TOKEN_USE ||
      typeof sub !== 'string' ||
      typeof sid !== 'string' ||
      typeof jti !== 'string' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      !isRole(role)
    ) {
      throw invalid('The token is not an access token.');
    }
    const principal: Principal = {
      userId: sub,
      role,
      sessionId: sid,
      credentialId: jti,
      kind: 'access_token',
      expiresAt: exp * 1000,
    };
    this.cache.set(token, { principal, issuedAt: iat, expiresAt: (exp + this.tolerance) * 1000 });
    return { principal, issuedAt: iat };
  }
}
