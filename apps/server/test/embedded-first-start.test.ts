import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pgliteTemplatePath } from '@parley/store';
import { Leftovers } from './support/leftovers.ts';
import { call, register } from './support/parley-client.ts';
import { EMBEDDED, spawnSingleProcess, startSingleProcess } from './support/single-process.ts';

/**
 * Writes the template's entries into `directory` up to and including `last`, as PGlite's first start does
 * before a kill lands: the state a SIGKILL leaves when it falls between two of its files.
 */
async function extractUpTo(template: Buffer, directory: string, last: string): Promise<void> {
  const text = (start: number, length: number) =>
    template.toString('latin1', start, start + length).replace(/\0.*$/s, '');
  for (let offset = 0; offset + 512 <= template.length; ) {
    const name = `${text(offset + 345, 155)}${text(offset, 100)}`.replace(/^\/+/, '');
    if (!name) return;
    const size = Number.parseInt(text(offset + 124, 12).trim() || '0', 8);
    const type = text(offset + 156, 1);
    const path = join(directory, name);
    if (type === '5') await mkdir(path, { recursive: true });
    else if (type === '0' || type === '') {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, template.subarray(offset + 512, offset + 512 + size));
    }
    if (name === last) return;
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${last} is not in the template`);
}

describe('npm start on embedded PGlite, SIGKILLed during its first start', () => {
  const leftovers = new Leftovers();
  const newDataDir = () => leftovers.dataDir('parley-first-start-');

  after(() => leftovers.cleanUp());

  /** The first start on `dataDir`, SIGKILLed once `when` says so (polled), or at the first database file. */
  async function killFirstStart(dataDir: string, when?: (output: string) => boolean): Promise<void> {
    const { parley } = await spawnSingleProcess({ ...EMBEDDED, LOG_LEVEL: 'info' }, dataDir);
    leftovers.process(parley);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const landed = when
        ? when(parley.output())
        : (await readdir(join(dataDir, 'pglite')).catch(() => [])).length > 0;
      if (landed) break;
      assert.equal(parley.child.exitCode, null, `the first start ended by itself:\n${parley.output()}`);
      assert.ok(Date.now() < deadline, `the kill point never came:\n${parley.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    parley.child.kill('SIGKILL');
    await parley.exited;
  }

  /** What a first start must have left, however it was cut short before: a working install. */
  async function assertUsable(dataDir: string, label: string): Promise<void> {
    const { parley, base } = await startSingleProcess(EMBEDDED, dataDir).catch((error: unknown) => {
      throw new Error(`${label}: the restart on the same data dir did not come up: ${String(error)}`);
    });
    leftovers.process(parley);
    const user = await register(base, 'someone@example.com');
    assert.ok(user.accessToken, label);
    const password = /password: (\S+)/.exec(await readFile(join(dataDir, 'admin-password.txt'), 'utf8'))?.[1];
    const login = await call<{ accessToken: string }>(base, 'POST', '/api/v1/auth/login', {
      body: { email: 'admin@localhost', password },
    });
    assert.equal(login.status, 200, `${label}: the admin signs in with the kept password`);
    const bots = await call<{ items: Array<{ name: string }> }>(base, 'GET', '/api/v1/bots', {
      token: user.accessToken,
    });
    assert.deepEqual(
      bots.body.items.map((bot) => bot.name),
      ['Parley Assistant'],
      `${label}: the default bot, once`,
    );
    assert.equal((await parley.stop(15_000)) ?? 0, 0, label);
  }

  it('comes up whole after its first start is SIGKILLed while loading the database and then while migrating', async () => {
    const dataDir = await newDataDir();
    // While PGlite fills the empty directory, then while the services migrate their schemas.
    await killFirstStart(dataDir);
    await killFirstStart(dataDir, (output) => output.includes('infrastructure ready'));
    await assertUsable(dataDir, 'killed at the first database file, then once the database was open');
  });

  it('comes up after a first start killed between the database files PGlite writes last', async (t) => {
    const template = await readFile(await pgliteTemplatePath()).catch(() => undefined);
    if (!template) return t.skip('no embedded database template (npm install makes it)');
    const dataDir = await newDataDir();
    await killFirstStart(dataDir);
    // PG_VERSION tells PGlite the cluster is there; postgresql.conf and the rest come after it.
    await extractUpTo(template, join(dataDir, 'pglite'), 'PG_VERSION');
    await assertUsable(dataDir, 'killed after PG_VERSION');
  });
});
