import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive, newId, newSecretToken } from '@parley/kernel';
import { identityEvents, systemActor } from '../events/identity-events.ts';
import type { NewUser } from '../repositories/user-repository.ts';
import { normalizeEmail } from './account-service.ts';
import type { IdentityContext } from './identity-context.ts';

export interface BootstrapOptions {
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  dataDir: string;
  /** Where the generated password is shown once (stdout in production). */
  announce: (text: string) => void;
}

export const GENERATED_ADMIN_EMAIL = 'admin@localhost';
export const ADMIN_PASSWORD_FILE = 'admin-password.txt';

/**
 * Makes sure an admin can sign in after the first start: the configured one if PARLEY_ADMIN_EMAIL is set
 * and no such user exists; otherwise, if there is no admin at all, `admin@localhost` with a random
 * password that is shown once and kept in the data dir (owner-only) for the operator to pick up.
 */
export async function bootstrapAdmin(context: IdentityContext, options: BootstrapOptions): Promise<void> {
  const db = context.database.db;
  if (options.adminEmail !== undefined && options.adminPassword !== undefined) {
    const email = normalizeEmail(options.adminEmail);
    if (await context.users.findByEmail(db, email)) return;
    try {
      context.policy.check(options.adminPassword, { email });
    } catch (error) {
      throw new Error(`PARLEY_ADMIN_PASSWORD is not acceptable: ${(error as Error).message}`);
    }
    const created = await createAdmin(context, {
      email,
      displayName: 'Admin',
      passwordHash: await context.hasher.hash(options.adminPassword),
    });
    if (created) context.logger.info({ email }, 'admin account created from PARLEY_ADMIN_EMAIL');
    return;
  }

  const file = join(options.dataDir, ADMIN_PASSWORD_FILE);
  await keepUnsavedPassword(context, options.dataDir);
  if ((await context.users.list(db, { role: 'admin', limit: 1 })).length > 0) return;
  const password = newSecretToken(18);
  const passwordHash = await context.hasher.hash(password);
  // Written before the admin commits and moved into place after: a process stopped in between (SIGKILL)
  // left an admin whose password was nowhere. The next start finds the unsaved file and keeps it.
  await mkdir(options.dataDir, { recursive: true });
  const unsaved = join(
    options.dataDir,
    `${ADMIN_PASSWORD_FILE}.${process.pid}.${randomBytes(6).toString('hex')}${UNSAVED}`,
  );
  await writeFile(unsaved, `email: ${GENERATED_ADMIN_EMAIL}\npassword: ${password}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  const created = await createAdmin(context, {
    email: GENERATED_ADMIN_EMAIL,
    displayName: 'Admin',
    passwordHash,
  });
  if (!created) {
    await unlink(unsaved);
    context.logger.warn(
      { email: GENERATED_ADMIN_EMAIL },
      'no admin exists and admin@localhost is a regular user',
    );
    return;
  }
  await rename(unsaved, file);
  context.logger.warn(
    { email: GENERATED_ADMIN_EMAIL, passwordFile: file },
    'created the first admin with a generated password (printed once on stdout, kept in the password file)',
  );
  options.announce(
    [
      '',
      '  Parley created the first admin account:',
      `    email:    ${GENERATED_ADMIN_EMAIL}`,
      `    password: ${password}`,
      `  It is shown only now; it is also kept in ${file}. Change it after signing in.`,
      '',
    ].join('\n'),
  );
}

const UNSAVED = '.unsaved';

/**
 * A password file left unsaved by a start stopped after its admin committed is moved into place when it
 * holds the generated admin's password (every other one is of an admin that was never created). Those of
 * a process still running are its own to finish: processes sharing a data dir start together.
 */
async function keepUnsavedPassword(context: IdentityContext, dataDir: string): Promise<void> {
  const names = await readdir(dataDir).catch(() => [] as string[]);
  const unsaved = names.filter(
    (name) => name.startsWith(`${ADMIN_PASSWORD_FILE}.`) && name.endsWith(UNSAVED),
  );
  if (unsaved.length === 0) return;
  const admin = await context.users.findByEmail(context.database.db, GENERATED_ADMIN_EMAIL);
  for (const name of unsaved) {
    const pid = Number(name.slice(ADMIN_PASSWORD_FILE.length + 1).split('.')[0]);
    // This process has not written its own yet; a pid equal to ours is a container's earlier life.
    if (pid !== process.pid && isProcessAlive(pid)) continue;
    const path = join(dataDir, name);
    const password = /^password: (\S+)$/m.exec(await readFile(path, 'utf8').catch(() => ''))?.[1];
    const current =
      admin?.role === 'admin' &&
      password !== undefined &&
      (await context.hasher.verify(admin.passwordHash, password));
    if (current && !names.includes(ADMIN_PASSWORD_FILE)) {
      await rename(path, join(dataDir, ADMIN_PASSWORD_FILE));
      context.logger.warn(
        { passwordFile: join(dataDir, ADMIN_PASSWORD_FILE) },
        "kept the first admin's password an earlier start did not save",
      );
    } else await unlink(path).catch(() => {});
  }
}

async function createAdmin(
  context: IdentityContext,
  user: Pick<NewUser, 'email' | 'displayName' | 'passwordHash'>,
): Promise<boolean> {
  return context.outbox.transaction(async (tx) => {
    const created = await context.users.insertIfAbsent(tx, {
      id: newId('usr'),
      ...user,
      role: 'admin',
      emailVerified: true,
    });
    if (created) {
      const revision = await context.revisions.next(tx);
      await context.outbox.add(tx, identityEvents.userRegistered(created, revision, systemActor));
    }
    return created !== null;
  });
}
