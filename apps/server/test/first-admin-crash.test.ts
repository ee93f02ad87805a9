import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ParleyProcess } from '../src/cluster/parley-process.ts';
import { call } from './support/parley-client.ts';
import { spawnSingleProcess, startSingleProcess } from './support/single-process.ts';

/** Empty values count as unset: `npm start`'s defaults, whatever backends this test run was given. */
const EMBEDDED = { DATABASE_URL: '', REDIS_URL: '', NATS_URL: '' };

describe("npm start's generated admin, when the first start stops after making it", () => {
  const running = new Set<ParleyProcess>();
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'parley-first-admin-'));
  });
  after(async () => {
    // A failed assertion must not leave a server running and the test runner waiting on it.
    for (const parley of running) if (parley.child.exitCode === null) parley.child.kill('SIGKILL');
    await Promise.all([...running].map((parley) => parley.exited));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps its password for the next start to save', async () => {
    // A directory where the password file goes: the first start fails right after the admin commits,
    // where a SIGKILL landing a moment later stops it too.
    const passwordFile = join(dataDir, 'admin-password.txt');
    await mkdir(passwordFile);
    const first = await spawnSingleProcess(EMBEDDED, dataDir);
    running.add(first.parley);
    assert.notEqual(await first.parley.exited, 0);
    assert.match(first.parley.output(), /EISDIR/);
    await rm(passwordFile, { recursive: true });

    const { parley, base } = await startSingleProcess(EMBEDDED, dataDir);
    running.add(parley);
    const kept = await readFile(passwordFile, 'utf8').catch(() => '');
    const password = /password: (\S+)/.exec(kept)?.[1];
    assert.ok(password, `the password file is there: ${(await readdir(dataDir)).join(', ')}`);
    const login = await call(base, 'POST', '/api/v1/auth/login', {
      body: { email: 'admin@localhost', password },
    });
    assert.equal(login.status, 200, 'the admin signs in with the kept password');
    assert.deepEqual(
      (await readdir(dataDir)).filter((name) => name.startsWith('admin-password.txt')),
      ['admin-password.txt'],
      'nothing unsaved is left',
    );
    assert.equal((await parley.stop(15_000)) ?? 0, 0);
  });
});
