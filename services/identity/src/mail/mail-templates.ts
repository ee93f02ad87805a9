import type { MailPayload } from '../schema/mail-outbox.ts';

/** Plain-text mails with the full link written out; `token=` is what the web client reads. */
export function verificationMail(options: {
  to: string;
  displayName: string;
  publicUrl: string;
  token: string;
}): MailPayload {
  const link = `${options.publicUrl}/verify-email?token=${encodeURIComponent(options.token)}`;
  return {
    to: options.to,
    subject: 'Confirm your email address for Parley',
    text: [
      `Hello ${options.displayName},`,
      '',
      'Please confirm your email address by opening this link:',
      '',
      link,
      '',
      'The link works once and expires in 48 hours. If you did not create a Parley account, ignore this mail.',
    ].join('\n'),
  };
}

export function passwordResetMail(options: {
  to: string;
  displayName: string;
  publicUrl: string;
  token: string;
}): MailPayload {
  const link = `${options.publicUrl}/reset-password?token=${encodeURIComponent(options.token)}`;
  return {
    to: options.to,
    subject: 'Reset your Parley password',
    text: [
      `Hello ${options.displayName},`,
      '',
      'Someone (hopefully you) asked to reset your Parley password. Choose a new one here:',
      '',
      link,
      '',
      'The link works once and expires in 1 hour. Resetting signs you out everywhere.',
      'If you did not ask for this, ignore this mail: your password stays as it is.',
    ].join('\n'),
  };
}
