import type { Cache } from '@parley/cache';
import type { Config, DenyList, Logger } from '@parley/kernel';
import type { Database, Outbox } from '@parley/store';
import type { KeyRing } from '../keys/key-ring.ts';
import type { PasswordHasher } from '../passwords/password-hasher.ts';
import type { PasswordPolicy } from '../passwords/password-policy.ts';
import type { ApiKeyRepository } from '../repositories/api-key-repository.ts';
import type { BlockRepository } from '../repositories/block-repository.ts';
import type { ChangeRevisionRepository } from '../repositories/change-revision-repository.ts';
import type { EmailTokenRepository } from '../repositories/email-token-repository.ts';
import type { MailOutboxRepository } from '../repositories/mail-outbox-repository.ts';
import type { RefreshTokenRepository } from '../repositories/refresh-token-repository.ts';
import type { SessionRepository } from '../repositories/session-repository.ts';
import type { UserRepository } from '../repositories/user-repository.ts';
import type { AccessTokenIssuer } from './access-token-issuer.ts';
import type { AuthRateLimiter } from './auth-rate-limiter.ts';
import type { Clock } from './clock.ts';

export type IdentitySettings = Pick<
  Config,
  | 'publicUrl'
  | 'accessTokenTtlSeconds'
  | 'sessionIdleDays'
  | 'sessionMaxDays'
  | 'refreshGraceSeconds'
  | 'authRateLimit'
>;

/** Everything identity's domain services share, assembled once by buildIdentity. */
export interface IdentityContext {
  settings: IdentitySettings;
  database: Database;
  outbox: Outbox;
  cache: Cache;
  users: UserRepository;
  sessions: SessionRepository;
  refreshTokens: RefreshTokenRepository;
  apiKeys: ApiKeyRepository;
  emailTokens: EmailTokenRepository;
  blocks: BlockRepository;
  /** The revisions identity's account and block events carry. */
  revisions: ChangeRevisionRepository;
  mailOutbox: MailOutboxRepository;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  keys: KeyRing;
  issuer: AccessTokenIssuer;
  denyList: DenyList;
  limiter: AuthRateLimiter;
  clock: Clock;
  logger: Logger;
}
