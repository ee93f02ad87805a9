import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export const ISSUER = 'http://parley.test';
export const AUDIENCE = 'parley';

export interface TestSigner {
  jwks: { keys: JWK[] };
  sign(claims: { sub: string; role?: string; expiresInSeconds?: number }): Promise<string>;
}

/** An Ed25519 key like identity's, its JWKS document, and access tokens shaped as identity issues them. */
export async function createSigner(kid = 'test-key'): Promise<TestSigner> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'EdDSA' };
  return {
    jwks: { keys: [jwk] },
    async sign({ sub, role = 'user', expiresInSeconds = 900 }) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role, sid: `ses_${randomUUID()}`, token_use: 'access' })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
        .setSubject(sub)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + expiresInSeconds)
        .sign(privateKey);
    },
  };
}
