export interface Mail {
  to: string;
  subject: string;
  /** Plain text; links are written out in full so they survive any mail client. */
  text: string;
}

/** The Mailer port: a file per mail on a laptop, SMTP everywhere else. */
export interface Mailer {
  readonly kind: 'file' | 'smtp';
  send(mail: Mail): Promise<void>;
  close(): Promise<void>;
}
