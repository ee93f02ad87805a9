import { AppError } from '@parley/kernel';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

export const weakPassword = (detail: string) =>
  new AppError(400, 'weak_password', detail, { errors: [{ path: 'body.password', message: detail }] });

/**
 * NIST SP 800-63B / ASVS V6.2: length (8–128 characters, counted as Unicode code points, any character
 * allowed) and not a commonly used password; no composition rules.
 */
export class PasswordPolicy {
  constructor(private readonly common: ReadonlySet<string>) {}

  check(password: string, context: { email?: string; displayName?: string } = {}): void {
    const length = [...password.normalize('NFC')].length;
    if (length < PASSWORD_MIN_LENGTH) throw weakPassword(`Use at least ${PASSWORD_MIN_LENGTH} characters.`);
    if (length > PASSWORD_MAX_LENGTH) throw weakPassword(`Use at most ${PASSWORD_MAX_LENGTH} characters.`);
    const lowered = password.toLowerCase();
    if (this.common.has(lowered)) {
      throw weakPassword('This password is too common; choose one that is harder to guess.');
    }
    const local = context.email?.split('@')[0]?.toLowerCase();
    if (lowered === context.email?.toLowerCase() || (local && local.length >= 4 && lowered === local)) {
      throw weakPassword('The password must not be your email address.');
    }
  }
}
