import { AppError, forbidden, type Principal } from '@parley/kernel';
import { userActor } from '../events/identity-events.ts';
import { normalizeEmail } from './account-service.ts';
import { cutoffMoment } from './cutoff-moment.ts';
import { queueEmailLink } from './email-links.ts';
import type { IdentityContext } from './identity-context.ts';
import { revoke } from './revocation.ts';
import { hashSecret } from './secrets.ts';

const invalidLinkToken = () =>
  new AppError(400, 'invalid_token', 'The link is invalid, expired or already used; ask for a new one.');

/** Email verification, password reset and password change. */
export class CredentialService {
  constructor(private readonly context: IdentityContext) {}

  async verifyEmail(token: string): Promise<void> {
    await this.context.outbox.transaction(async (tx) => {
      const now = this.context.clock();
      const used = await this.context.emailTokens.consume(tx, hashSecret(token), 'verify_email', now);
      if (!used) throw invalidLinkToken();
      await this.context.users.update(tx, used.userId, { emailVerified: true });
    });
  }

  async resendVerification(userId: string): Promise<void> {
    await this.context.outbox.transaction(async (tx) => {
      const user = await this.context.users.findById(tx, userId);
      if (!user?.active || user.emailVerified) return;
      await queueEmailLink(this.context, tx, user, 'verify_email');
    });
  }

  /** Always succeeds from the caller's point of view: whether the account exists is not revealed. */
  async forgotPassword(emailInput: string): Promise<void> {
    const email = normalizeEmail(emailInput);
    await this.context.outbox.transaction(async (tx) => {
      const user = await this.context.users.findByEmail(tx, email);
      if (!user?.active) return;
      await queueEmailLink(this.context, tx, user, 'reset_password');
    });
  }

  /**
   * Sets the new password, verifies the email (the mail was received), ends every session and deletes
   * every API key: a reset recovers an account, and whoever had it may have minted keys that would
   * otherwise outlive the recovery. (A password change, by someone who knows the current one, keeps them.)
   */
  async resetPassword(token: string, password: string): Promise<void> {
    // Checked before the token is spent, so a refused password does not burn the link.
    const db = this.context.database.db;
    const pending = await this.context.emailTokens.findUsable(
      db,
      hashSecret(token),
      'reset_password',
      this.context.clock(),
    );
    if (!pending) throw invalidLinkToken();
    const owner = await this.context.users.findById(db, pending.userId);
    if (!owner?.active) throw invalidLinkToken();
    this.context.policy.check(password, { email: owner.email });
    const passwordHash = await this.context.hasher.hash(password);
    await this.context.outbox.transaction(async (tx) => {
      const now = this.context.clock();
      const used = await this.context.emailTokens.consume(tx, hashSecret(token), 'reset_password', now);
      if (!used) throw invalidLinkToken();
      const current = await this.context.users.findById(tx, used.userId, { forUpdate: true });
      const cutoffAt = cutoffMoment(current?.tokensValidAfter ?? null, now);
      await this.context.users.update(tx, used.userId, {
        passwordHash,
        emailVerified: true,
        tokensValidAfter: cutoffAt,
      });
      await this.context.emailTokens.invalidateForUser(tx, used.userId, 'reset_password', now);
      const ended = await this.context.sessions.revokeAllForUser(tx, used.userId, 'password_reset', now);
      // Answers other processes keep for these keys fall to the user cut-off below, as tokens do.
      await this.context.apiKeys.deleteAllForUser(tx, used.userId);
      await revoke(this.context, tx, {
        userId: used.userId,
        sessionIds: ended,
        allSessions: true,
        reason: 'password_reset',
        actor: userActor(used.userId),
        cutoffAt,
      });
    });
    await this.context.limiter.recordLoginSuccess(owner.email);
  }

  /** Needs the current password; ends the caller's other sessions and keeps this one. */
  async changePassword(principal: Principal, currentPassword: string, newPassword: string): Promise<void> {
    if (principal.kind !== 'access_token') {
      throw forbidden('Changing the password needs a signed-in session, not an API key.');
    }
    const user = await this.context.users.findById(this.context.database.db, principal.userId);
    if (!user?.active) throw forbidden();
    await this.context.limiter.assertLoginAllowed(user.email);
    if (!(await this.context.hasher.verify(user.passwordHash, currentPassword))) {
      await this.context.limiter.recordLoginFailure(user.email);
      throw new AppError(403, 'invalid_credentials', 'The current password is not correct.');
    }
    this.context.policy.check(newPassword, { email: user.email });
    const passwordHash = await this.context.hasher.hash(newPassword);
    await this.context.outbox.transaction(async (tx) => {
      const now = this.context.clock();
      await this.context.users.update(tx, user.id, { passwordHash });
      await this.context.emailTokens.invalidateForUser(tx, user.id, 'reset_password', now);
      const ended = await this.context.sessions.revokeAllForUser(
        tx,
        user.id,
        'password_changed',
        now,
        principal.sessionId ?? undefined,
      );
      await revoke(this.context, tx, {
        userId: user.id,
        sessionIds: ended,
        allSessions: false,
        reason: 'password_changed',
        actor: userActor(user.id),
      });
    });
  }
}
