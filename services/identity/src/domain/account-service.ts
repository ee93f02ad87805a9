import { AppError, conflict, newId, notFound, unauthorized } from '@parley/kernel';
import { isUniqueViolation } from '@parley/store';
import { identityEvents, userActor } from '../events/identity-events.ts';
import type { UserRow } from '../schema/users.ts';
import type { AuthResult, ClientInfo } from './auth-result.ts';
import { queueEmailLink } from './email-links.ts';
import type { IdentityContext } from './identity-context.ts';
import type { SessionService } from './session-service.ts';
import { toUserView, type UserView } from './user-views.ts';

export const invalidCredentials = () =>
  unauthorized('The email or password is not correct.', 'invalid_credentials');

/** Emails are compared and stored in one form: trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export class AccountService {
  constructor(
    private readonly context: IdentityContext,
    private readonly sessions: SessionService,
  ) {}

  async register(
    input: { email: string; password: string; displayName: string },
    client: ClientInfo,
  ): Promise<AuthResult> {
    const email = normalizeEmail(input.email);
    const displayName = input.displayName.trim();
    this.context.policy.check(input.password, { email, displayName });
    const passwordHash = await this.context.hasher.hash(input.password);
    try {
      const { user, sessionId, refreshToken } = await this.context.outbox.transaction(async (tx) => {
        const created = await this.context.users.insert(tx, {
          id: newId('usr'),
          email,
          displayName,
          passwordHash,
        });
        const revision = await this.context.revisions.next(tx);
        await this.context.outbox.add(
          tx,
          identityEvents.userRegistered(created, revision, userActor(created.id)),
        );
        await queueEmailLink(this.context, tx, created, 'verify_email');
        const started = await this.sessions.start(tx, created, client);
        const user =
          (await this.context.users.update(tx, created.id, { lastLoginAt: this.context.clock() })) ?? created;
        return { user, ...started };
      });
      return this.sessions.authResult(user, sessionId, refreshToken);
    } catch (error) {
      if (isUniqueViolation(error))
        throw conflict('An account with this email already exists.', 'email_taken');
      throw error;
    }
  }

  /**
   * Unknown email and wrong password take the same path and time (a dummy hash is verified) and give
   * the same 401; only someone who knows the password learns that an account is deactivated.
   */
  async login(input: { email: string; password: string }, client: ClientInfo): Promise<AuthResult> {
    const email = normalizeEmail(input.email);
    await this.context.limiter.assertLoginAllowed(email);
    const found = await this.context.users.findByEmail(this.context.database.db, email);
    const matches = found
      ? await this.context.hasher.verify(found.passwordHash, input.password)
      : await this.context.hasher.verifyDummy(input.password);
    if (!found || !matches) {
      await this.context.limiter.recordLoginFailure(email);
      throw invalidCredentials();
    }
    if (!found.active) throw new AppError(403, 'account_disabled', 'This account has been deactivated.');
    await this.context.limiter.recordLoginSuccess(email);
    const rehash = this.context.hasher.needsRehash(found.passwordHash)
      ? await this.context.hasher.hash(input.password)
      : undefined;

    const { user, sessionId, refreshToken } = await this.context.outbox.transaction(async (tx) => {
      // Re-read under a row lock: a password reset or deactivation that committed meanwhile wins.
      const current = await this.context.users.findById(tx, found.id, { forUpdate: true });
      if (!current || current.passwordHash !== found.passwordHash) throw invalidCredentials();
      if (!current.active) throw new AppError(403, 'account_disabled', 'This account has been deactivated.');
      const started = await this.sessions.start(tx, current, client);
      const user = await this.context.users.update(tx, current.id, {
        lastLoginAt: this.context.clock(),
        ...(rehash ? { passwordHash: rehash } : {}),
      });
      return { user: user ?? current, ...started };
    });
    return this.sessions.authResult(user, sessionId, refreshToken);
  }

  async me(userId: string): Promise<UserView> {
    return toUserView(await this.activeUser(userId));
  }

  async activeUser(userId: string): Promise<UserRow> {
    const user = await this.context.users.findById(this.context.database.db, userId);
    // A token can outlive its account by a request or two; the account is simply gone for it.
    if (!user?.active) throw notFound('The account does not exist.');
    return user;
  }
}
