import { join } from 'node:path';
import { FileMailer } from './file-mailer.ts';
import type { Mailer } from './mailer.ts';
import { SmtpMailer } from './smtp-mailer.ts';

export interface CreateMailerOptions {
  /** `file`, or an `smtp://` / `smtps://` URL (PARLEY_MAIL_TRANSPORT). */
  transport: string;
  dataDir: string;
  from: string;
}

export function createMailer(options: CreateMailerOptions): Mailer {
  if (options.transport === 'file') {
    return new FileMailer({ directory: join(options.dataDir, 'mail'), from: options.from });
  }
  return new SmtpMailer({ url: options.transport, from: options.from });
}
