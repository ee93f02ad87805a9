import {
  type Authenticator,
  newId,
  newSecretToken,
  type Principal,
  type Role,
  unauthorized,
} from '@parley/kernel';

/**
 * Stands in for identity's authenticator: opaque access tokens and `prly_` API keys mapped to principals,
 * so tests exercise both credential kinds the real one accepts.
 */
export class TestAuthenticator implements Authenticator {
  private readonly credentials = new Map<string, Principal>();

  issue(userId: string, role: Role): string {
    const token = `tok_${newSecretToken(12)}`;
    this.credentials.set(token, {
      userId,
      role,
      sessionId: newId('ses'),
      credentialId: newId('jti'),
      kind: 'access_token',
      expiresAt: Date.now() + 15 * 60_000,
    });
    return token;
  }

  apiKey(userId: string, role: Role): string {
    const key = `prly_${newSecretToken(18)}`;
    this.credentials.set(key, {
      userId,
      role,
      sessionId: null,
      credentialId: newId('key'),
      kind: 'api_key',
      expiresAt: null,
    });
    return key;
  }

  async authenticate(bearer: string): Promise<Principal> {
    const principal = this.credentials.get(bearer);
    if (!principal) throw unauthorized('The bearer credential is not valid.', 'invalid_token');
    return principal;
  }
}
