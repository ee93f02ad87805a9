import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { parseMessage, type ReceivedMail } from './parse-message.ts';

export interface SmtpTestServer {
  url: string;
  received: (ReceivedMail & { envelopeTo: string[] })[];
  close(): Promise<void>;
}

/** An SMTP server on loopback, for tests only: accepts everything without TLS or auth and keeps it. */
export async function startSmtpTestServer(): Promise<SmtpTestServer> {
  const received: SmtpTestServer['received'] = [];
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const envelopeTo = session.envelope.rcptTo.map((rcpt) => rcpt.address);
        received.push({ ...parseMessage(Buffer.concat(chunks).toString('utf8')), envelopeTo });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
