import nodemailer, { type Transporter } from 'nodemailer';
import { assertSingleLine } from './header-encoding.ts';
import type { Mail, Mailer } from './mailer.ts';

/** SMTP through nodemailer, configured by an `smtp://` or `smtps://` URL (credentials in the URL). */
export class SmtpMailer implements Mailer {
  readonly kind = 'smtp';
  private readonly transport: Transporter;

  constructor(private readonly options: { url: string; from: string; timeoutMs?: number }) {
    const timeout = options.timeoutMs ?? 15_000;
    const url = new URL(options.url);
    this.transport = nodemailer.createTransport({
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
      secure: url.protocol === 'smtps:',
      auth: url.username
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  }

  async send(mail: Mail): Promise<void> {
    assertSingleLine(mail.to, 'to');
    await this.transport.sendMail({
      from: this.options.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
    });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
