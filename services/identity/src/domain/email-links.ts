import { newId, newSecretToken } from '@parley/kernel';
import type { Tx } from '@parley/store';
import { passwordResetMail, verificationMail } from '../mail/mail-templates.ts';
import type { EmailTokenPurpose } from '../schema/email-tokens.ts';
import type { UserRow } from '../schema/users.ts';
import type { IdentityContext } from './identity-context.ts';
import { hashSecret } from './secrets.ts';

const LIFETIME_MS: Record<EmailTokenPurpose, number> = {
  verify_email: 48 * 3600 * 1000,
  reset_password: 3600 * 1000,
};

/**
 * Creates a single-use token (only its hash is stored; older ones of the same purpose are spent) and
 * queues the mail carrying it in the same transaction: the mail leaves only if the change commits.
 */
export async function queueEmailLink(
  context: IdentityContext,
  tx: Tx,
  user: UserRow,
  purpose: EmailTokenPurpose,
): Promise<void> {
  const now = context.clock();
  const token = newSecretToken(32);
  await context.emailTokens.invalidateForUser(tx, user.id, purpose, now);
  await context.emailTokens.insert(tx, {
    id: newId('etk'),
    userId: user.id,
    purpose,
    tokenHash: hashSecret(token),
    expiresAt: new Date(now.getTime() + LIFETIME_MS[purpose]),
  });
  const template = purpose === 'verify_email' ? verificationMail : passwordResetMail;
  await context.mailOutbox.add(
    tx,
    template({ to: user.email, displayName: user.displayName, publicUrl: context.settings.publicUrl, token }),
  );
}
