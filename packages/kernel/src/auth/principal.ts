export const ROLES = ['user', 'agent', 'manager', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, as every service sees it after authentication. */
export interface Principal {
  userId: string;
  role: Role;
  /** The session (refresh-token family) an access token belongs to; null for API keys and services. */
  sessionId: string | null;
  /** The access token's `jti`, or the API key's id. */
  credentialId: string;
  kind: 'access_token' | 'api_key' | 'service';
  /** Epoch milliseconds when the credential stops working; null when it does not expire. */
  expiresAt: number | null;
}

/** Turns a bearer credential into a principal, or throws a 401 AppError (`unauthorized`, `token_expired`, ...). */
export interface Authenticator {
  authenticate(bearer: string): Promise<Principal>;
}

/** True when `role` has at least the rights of `minimum` (user < agent < manager < admin). */
export function hasRole(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

export function isStaff(role: Role): boolean {
  return hasRole(role, 'agent');
}
