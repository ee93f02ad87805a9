import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { createMailer } from '../src/create-mailer.ts';
import { readFileInbox } from '../src/testing/file-inbox.ts';
import { runMailerContract } from '../src/testing/mailer-contract.ts';

runMailerContract('file', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-mail-'));
  const mailer = createMailer({ transport: 'file', dataDir, from: 'Parley <no-reply@parley.test>' });
  return {
    mailer,
    inbox: () => readFileInbox(join(dataDir, 'mail')),
    dispose: async () => {
      await mailer.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

it('file transport: one owner-only file per mail under <dataDir>/mail, link readable as written', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-mail-'));
  try {
    const mailer = createMailer({ transport: 'file', dataDir, from: 'Parley <no-reply@parley.test>' });
    await mailer.send({ to: 'a@example.com', subject: 's', text: 'https://x.test/verify?token=abc123' });
    const [mail] = await readFileInbox(join(dataDir, 'mail'));
    assert.ok(mail);
    assert.equal((await stat(mail.file)).mode & 0o777, 0o600);
    assert.match(await readFile(mail.file, 'utf8'), /token=abc123/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
