import type { UserView } from './user-views.ts';

/** What register, login and refresh answer (API.md). */
export interface AuthResult {
  user: UserView;
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  sessionId: string;
}

export interface ClientInfo {
  userAgent: string | null;
  ip: string | null;
}
