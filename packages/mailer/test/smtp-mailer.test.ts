import { createMailer } from '../src/create-mailer.ts';
import { runMailerContract } from '../src/testing/mailer-contract.ts';
import { startSmtpTestServer } from '../src/testing/smtp-test-server.ts';

runMailerContract('SMTP (nodemailer against a loopback SMTP server)', async () => {
  const server = await startSmtpTestServer();
  const mailer = createMailer({
    transport: server.url,
    dataDir: '/nonexistent',
    from: 'Parley <no-reply@parley.test>',
  });
  return {
    mailer,
    inbox: async () => server.received,
    dispose: async () => {
      await mailer.close();
      await server.close();
    },
  };
});
