import type { Authenticator } from '@parley/kernel';
import type { AccountService } from '../domain/account-service.ts';
import type { AdminService } from '../domain/admin-service.ts';
import type { ApiKeyService } from '../domain/api-key-service.ts';
import type { AuthRateLimiter } from '../domain/auth-rate-limiter.ts';
import type { CredentialService } from '../domain/credential-service.ts';
import type { DirectoryService } from '../domain/directory-service.ts';
import type { SessionService } from '../domain/session-service.ts';
import type { KeyRing } from '../keys/key-ring.ts';

/** What identity's routes call: domain services only, never repositories. */
export interface RouteDeps {
  authenticator: Authenticator;
  limiter: AuthRateLimiter;
  accounts: AccountService;
  sessions: SessionService;
  credentials: CredentialService;
  apiKeys: ApiKeyService;
  directory: DirectoryService;
  admin: AdminService;
  keys: KeyRing;
}
