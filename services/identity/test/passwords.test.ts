import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IdentityEvents } from '@parley/contracts';
import fc from 'fast-check';
import { DEFAULT_HASH_PARAMETERS } from '../src/index.ts';
import { PasswordHasher } from '../src/passwords/password-hasher.ts';
import {
  bearer,
  type Harness,
  login,
  me,
  problemOf,
  register,
  startIdentity,
  tokenFromMail,
  uniqueEmail,
  waitFor,
} from './harness.ts';

describe('password hashing (argon2id, the production parameters)', () => {
  const hasher = new PasswordHasher();

  it('uses argon2id with m ≥ 19 MiB, t = 2, p = 1 and a random salt', async () => {
    assert.deepEqual(DEFAULT_HASH_PARAMETERS, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const a = await hasher.hash('the same password');
    const b = await hasher.hash('the same password');
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.notEqual(a, b, 'salted');
    assert.equal(hasher.needsRehash(a), false);
    assert.equal(new PasswordHasher({ memoryCost: 65536, timeCost: 3, parallelism: 1 }).needsRehash(a), true);
  });

  it('hashes off the event loop: timers keep firing while hashes run', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    await Promise.all(Array.from({ length: 4 }, (_, i) => hasher.hash(`password number ${i}`)));
    clearInterval(timer);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks during hashing`);
  });

  it('property: random Unicode passwords round-trip; a one-character change fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', minLength: 8, maxLength: 40 }),
        fc.nat(),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
        async (password, position, replacement) => {
          const chars = [...password];
          const index = position % chars.length;
          fc.pre(chars[index] !== replacement);
          chars[index] = replacement;
          const changed = chars.join('');
          // Passwords compare after NFC normalization; a change that normalizes away is no change.
          fc.pre(changed.normalize('NFC') !== password.normalize('NFC'));
          const stored = await hasher.hash(password);
          assert.equal(await hasher.verify(stored, password), true);
          assert.equal(await hasher.verify(stored, password.normalize('NFD')), true);
          assert.equal(await hasher.verify(stored, changed), false);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('never truncates: passwords sharing a long prefix differ', async () => {
    const long = 'x'.repeat(127);
    const stored = await hasher.hash(`${long}a`);
    assert.equal(await hasher.verify(stored, `${long}b`), false);
  });

  it('a malformed stored hash never matches and never throws', async () => {
    assert.equal(await hasher.verify('not a hash', 'anything'), false);
  });
});

describe('identity: email verification, password reset and change', () => {
  let h: Harness;
  let offsetMs = 0;
  before(async () => {
    h = await startIdentity({ clock: () => new Date(Date.now() + offsetMs) });
  });
  after(() => h.close());

  const mailTo = (email: string, subject: RegExp) =>
    waitFor(
      async () => (await h.mails()).filter((m) => m.to === email && subject.test(m.subject)).at(-1),
      `mail to ${email}`,
    );

  describe('POST /api/v1/auth/verify-email', () => {
    it('registration mails a verification link (file transport) whose token verifies once', async () => {
      const account = await register(h.app);
      const mail = await mailTo(account.email, /Confirm/);
      assert.match(mail.text, /https:\/\/parley\.test\/verify-email\?token=/);
      const token = tokenFromMail(mail.text);
      const ok = await h.app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });
      assert.equal(ok.statusCode, 204);
      assert.equal((await me(h.app, account.accessToken)).json().emailVerified, true);
      const again = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/verify-email',
        payload: { token },
      });
      assert.equal(again.statusCode, 400);
      assert.equal(problemOf(again).code, 'invalid_token');
    });

    it('refuses unknown tokens and bad bodies', async () => {
      const unknown = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/verify-email',
        payload: { token: 'A'.repeat(43) },
      });
      assert.equal(unknown.statusCode, 400);
      assert.equal(problemOf(unknown).code, 'invalid_token');
      const bad = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/verify-email',
        payload: { token: 1 },
      });
      assert.equal(problemOf(bad).code, 'validation_failed');
    });

    it('resend sends a new link and spends the old one', async () => {
      const account = await register(h.app);
      const first = tokenFromMail((await mailTo(account.email, /Confirm/)).text);
      const resend = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/verify-email/resend',
        headers: bearer(account.accessToken),
      });
      assert.equal(resend.statusCode, 202);
      const second = await waitFor(async () => {
        const token = tokenFromMail((await mailTo(account.email, /Confirm/)).text);
        return token !== first ? token : undefined;
      }, 'second verification mail');
      const old = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/verify-email',
        payload: { token: first },
      });
      assert.equal(old.statusCode, 400);
      const fresh = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/verify-email',
        payload: { token: second },
      });
      assert.equal(fresh.statusCode, 204);
    });

    it('sends verification mails again only a few times per account', async () => {
      const account = await register(h.app);
      const resend = () =>
        h.app.inject({
          method: 'POST',
          url: '/api/v1/auth/verify-email/resend',
          headers: bearer(account.accessToken),
        });
      const answers = await Promise.all(Array.from({ length: 6 }, resend));
      assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [202, 202, 202, 429, 429, 429]);
      const refused = answers.find((answer) => answer.statusCode === 429)!;
      assert.equal(problemOf(refused).code, 'rate_limited');
      assert.ok(Number(refused.headers['retry-after']) > 60, 'a quarter hour, not a minute');
    });
  });

  describe('POST /api/v1/auth/forgot-password and reset-password', () => {
    it('answers 202 whether or not the account exists, and mails only real accounts', async () => {
      const account = await register(h.app);
      const ghost = uniqueEmail('ghost');
      // admin@localhost (the first start's admin) signs in, so it may ask for a link like anyone.
      for (const email of [account.email, ghost, 'admin@localhost']) {
        const response = await h.app.inject({
          method: 'POST',
          url: '/api/v1/auth/forgot-password',
          payload: { email },
        });
        assert.equal(response.statusCode, 202);
        assert.deepEqual(response.json(), { status: 'accepted' });
      }
      await mailTo(account.email, /Reset/);
      assert.equal(
        (await h.mails()).some((m) => m.to === ghost),
        false,
      );
    });

    it('resets with the mailed token (single use), ends every session and API key, verifies the email', async () => {
      const account = await register(h.app);
      const other = await login(h.app, account.email, account.password);
      // A key minted by whoever held the account before its recovery.
      const minted = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/api-keys',
        headers: { authorization: `Bearer ${account.accessToken}` },
        payload: { name: 'left behind' },
      });
      assert.equal(minted.statusCode, 201, minted.body);
      const apiKey = (minted.json() as { key: string }).key;
      assert.equal((await me(h.app, apiKey)).statusCode, 200);
      await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/forgot-password',
        payload: { email: account.email },
      });
      const mail = await mailTo(account.email, /Reset/);
      assert.match(mail.text, /https:\/\/parley\.test\/reset-password\?token=/);
      assert.match(mail.text, /1 hour/);
      const token = tokenFromMail(mail.text);

      const weak = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/reset-password',
        payload: { token, password: 'password1' },
      });
      assert.equal(weak.statusCode, 400);
      assert.equal(problemOf(weak).code, 'weak_password');

      const reset = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/reset-password',
        payload: { token, password: 'a brand new passphrase' },
      });
      assert.equal(reset.statusCode, 204, 'a refused password did not burn the link');
      assert.equal((await me(h.app, account.accessToken)).statusCode, 401);
      assert.equal((await me(h.app, other.accessToken)).statusCode, 401);
      const refresh = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: other.refreshToken },
      });
      assert.equal(refresh.statusCode, 401);
      const oldPassword = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: account.email, password: account.password },
      });
      assert.equal(oldPassword.statusCode, 401);
      const fresh = await login(h.app, account.email, 'a brand new passphrase');
      assert.equal((await me(h.app, fresh.accessToken)).json().emailVerified, true);
      assert.equal((await me(h.app, apiKey)).statusCode, 401, 'the API key went with the reset');
      const keys = await h.app.inject({
        method: 'GET',
        url: '/api/v1/auth/api-keys',
        headers: { authorization: `Bearer ${fresh.accessToken}` },
      });
      assert.deepEqual((keys.json() as { items: unknown[] }).items, []);
      const reuse = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/reset-password',
        payload: { token, password: 'yet another passphrase' },
      });
      assert.equal(reuse.statusCode, 400);
      assert.equal(problemOf(reuse).code, 'invalid_token');
      await waitFor(
        async () =>
          h.events.find(
            (e) =>
              e.type === IdentityEvents.sessionRevoked &&
              (e.data as { userId: string; reason: string }).userId === account.id &&
              (e.data as { reason: string }).reason === 'password_reset',
          ),
        'session.revoked (password_reset)',
      );
    });

    it('a reset link expires after one hour', async () => {
      const account = await register(h.app);
      await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/forgot-password',
        payload: { email: account.email },
      });
      const token = tokenFromMail((await mailTo(account.email, /Reset/)).text);
      offsetMs += 61 * 60_000;
      try {
        const late = await h.app.inject({
          method: 'POST',
          url: '/api/v1/auth/reset-password',
          payload: { token, password: 'a brand new passphrase' },
        });
        assert.equal(late.statusCode, 400);
        assert.equal(problemOf(late).code, 'invalid_token');
      } finally {
        offsetMs -= 61 * 60_000;
      }
    });

    it('refuses an unknown token and validates the body', async () => {
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/reset-password',
        payload: { token: 'B'.repeat(43), password: 'a brand new passphrase' },
      });
      assert.equal(response.statusCode, 400);
      assert.equal(problemOf(response).code, 'invalid_token');
      const bad = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/forgot-password',
        payload: { email: 'nope' },
      });
      assert.equal(bad.statusCode, 400);
    });
  });

  describe('POST /api/v1/auth/change-password', () => {
    it('needs the current password; keeps this session, ends the others', async () => {
      const account = await register(h.app);
      const other = await login(h.app, account.email, account.password);
      const wrong = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/change-password',
        headers: bearer(account.accessToken),
        payload: { currentPassword: 'not it at all', newPassword: 'a different passphrase' },
      });
      assert.equal(wrong.statusCode, 403);
      assert.equal(problemOf(wrong).code, 'invalid_credentials');
      const weak = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/change-password',
        headers: bearer(account.accessToken),
        payload: { currentPassword: account.password, newPassword: 'qwertyuiop' },
      });
      assert.equal(problemOf(weak).code, 'weak_password');
      const ok = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/change-password',
        headers: bearer(account.accessToken),
        payload: { currentPassword: account.password, newPassword: 'a different passphrase' },
      });
      assert.equal(ok.statusCode, 204);
      assert.equal((await me(h.app, account.accessToken)).statusCode, 200, 'this session stays');
      assert.equal((await me(h.app, other.accessToken)).statusCode, 401, 'the others end');
      await login(h.app, account.email, 'a different passphrase');
      const unauthenticated = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/change-password',
        payload: { currentPassword: 'a', newPassword: 'a different passphrase' },
      });
      assert.equal(unauthenticated.statusCode, 401);
      const missing = await h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/change-password',
        headers: bearer(account.accessToken),
        payload: { newPassword: 'a different passphrase' },
      });
      assert.equal(missing.statusCode, 400);
    });
  });
});
