import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Mailer } from '../mailer.ts';
import type { ReceivedMail } from './parse-message.ts';

export interface MailerHarness {
  mailer: Mailer;
  /** What has arrived so far, oldest first. */
  inbox(): Promise<ReceivedMail[]>;
  dispose(): Promise<void>;
}

/** One suite for every Mailer transport: what is sent is what arrives, links and Unicode intact. */
export function runMailerContract(name: string, open: () => Promise<MailerHarness>): void {
  describe(`mailer contract: ${name}`, () => {
    let harness: MailerHarness;
    before(async () => {
      harness = await open();
    });
    after(() => harness.dispose());

    it('delivers recipient, subject and text', async () => {
      await harness.mailer.send({ to: 'ada@example.com', subject: 'Hello', text: 'First line\nSecond line' });
      const [mail] = await harness.inbox();
      assert.ok(mail);
      assert.match(mail.to, /ada@example\.com/);
      assert.equal(mail.subject, 'Hello');
      assert.equal(mail.text, 'First line\nSecond line');
      assert.match(mail.from, /no-reply@parley\.test/);
    });

    it('keeps a long link with its token intact and Unicode readable', async () => {
      const token = 'tK3_-'.repeat(20);
      const link = `https://chat.example.com/reset-password?token=${token}`;
      await harness.mailer.send({
        to: 'zoe@example.com',
        subject: 'Réinitialiser — パスワード',
        text: `Bonjour Zoë,\n\n${link}\n`,
      });
      const mail = (await harness.inbox()).at(-1);
      assert.ok(mail);
      assert.equal(mail.subject, 'Réinitialiser — パスワード');
      assert.ok(mail.text.includes(link), mail.text);
      assert.ok(mail.text.startsWith('Bonjour Zoë,'));
      assert.equal(new URL(link).searchParams.get('token'), token);
    });

    it('refuses a recipient that would inject headers', async () => {
      await assert.rejects(
        harness.mailer.send({ to: 'a@example.com\r\nBcc: everyone@example.com', subject: 'x', text: 'x' }),
        TypeError,
      );
    });
  });
}
