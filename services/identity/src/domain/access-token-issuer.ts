import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TYPE,
  ACCESS_TOKEN_USE,
  cutoffSecondsFor,
  newId,
  type Role,
} from '@parley/kernel';
import { SignJWT } from 'jose';
import type { KeyRing } from '../keys/key-ring.ts';
import type { Clock } from './clock.ts';

export interface IssuedAccessToken {
  token: string;
  tokenId: string;
  expiresIn: number;
}

export interface AccessTokenSubject {
  userId: string;
  role: Role;
  sessionId: string;
  /** The user's token cut-off, if any: the new token's iat is never before it (see DenyList). */
  tokensValidAfter: Date | null;
}

/** Signs access tokens with the key ring's active Ed25519 key. */
export class AccessTokenIssuer {
  constructor(
    private readonly keys: KeyRing,
    private readonly options: { issuer: string; audience: string; ttlSeconds: number; clock: Clock },
  ) {}

  async issue(subject: AccessTokenSubject): Promise<IssuedAccessToken> {
    const now = Math.floor(this.options.clock().getTime() / 1000);
    const cutoff = subject.tokensValidAfter ? cutoffSecondsFor(subject.tokensValidAfter.getTime()) : 0;
    const issuedAt = Math.max(now, cutoff);
    const expiresAt = issuedAt + this.options.ttlSeconds;
    const tokenId = newId('jti');
    const { kid, privateKey } = this.keys.signingKey();
    const token = await new SignJWT({
      role: subject.role,
      sid: subject.sessionId,
      token_use: ACCESS_TOKEN_USE,
    })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setSubject(subject.userId)
      .setJti(tokenId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(privateKey);
    return { token, tokenId, expiresIn: expiresAt - now };
  }
}
