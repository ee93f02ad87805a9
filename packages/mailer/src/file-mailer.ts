import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSingleLine, encodeHeaderValue } from './header-encoding.ts';
import type { Mail, Mailer } from './mailer.ts';

/**
 * Development mail: each message becomes one `.eml` file in `directory` (the data dir's `mail/`). The body
 * is written as 8-bit UTF-8, not quoted-printable, so a link and its `token=...` can be copied straight
 * out of the file. Files are owner-only: they hold single-use tokens.
 */
export class FileMailer implements Mailer {
  readonly kind = 'file';

  constructor(private readonly options: { directory: string; from: string; now?: () => Date }) {}

  async send(mail: Mail): Promise<void> {
    assertSingleLine(mail.to, 'to');
    const now = this.options.now?.() ?? new Date();
    const id = `${now.getTime()}-${randomBytes(6).toString('hex')}`;
    const message = [
      `Message-ID: <${id}@parley.local>`,
      `Date: ${now.toUTCString()}`,
      `From: ${encodeHeaderValue(this.options.from)}`,
      `To: ${mail.to}`,
      `Subject: ${encodeHeaderValue(mail.subject)}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      mail.text.replace(/\r?\n/g, '\r\n'),
      '',
    ].join('\r\n');
    await mkdir(this.options.directory, { recursive: true, mode: 0o700 });
    const path = join(this.options.directory, `${now.toISOString().replace(/[:.]/g, '-')}-${id}.eml`);
    // Written aside and renamed, so a reader polling the directory never sees half a mail.
    await writeFile(`${path}.tmp`, message, { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  }

  async close(): Promise<void> {}
}
