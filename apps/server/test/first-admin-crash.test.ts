import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Leftovers } from './support/leftovers.ts';
import { call } from './support/parley-client.ts';
import { EMBEDDED, spawnSingleProcess, startSingleProcess } from './support/single-process.ts';

describe("npm start's generated admin, when the first start stops after making it", () => {
  const leftovers = new Leftovers();
  let dataDir: string;

  before(async () => {
    dataDir = await leftovers.dataDir('parley-first-admin-');
  });
  after(() => leftovers.cleanUp());

  it('keeps its password for the next start to save', async () => {
    // A directory where the password file goes: the first start fails right after the admin commits,
    // where a SIGKILL landing a moment later stops it too.
    const passwordFile = join(dataDir, 'admin-password.txt');
    await mkdir(passwordFile);
    const first = await spawnSingleProcess(EMBEDDED, dataDir);
    leftovers.process(first.parley);
    assert.notEqual(await first.parley.exited, 0);
    assert.match(first.parley.output(), /EISDIR/);
    await rm(passwordFile, { recursive: true });

    const { parley, base } = await startSingleProcess(EMBEDDED, dataDir);
    leftovers.process(parley);
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
