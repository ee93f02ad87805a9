import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Leftovers } from './support/leftovers.ts';
import { call, register } from './support/parley-client.ts';
import { EMBEDDED, spawnSingleProcess, startSingleProcess } from './support/single-process.ts';

const PASSWORD = 'a long and unusual passphrase';

describe('one npm start at a time on an embedded data dir', () => {
  const leftovers = new Leftovers();
  let dataDir: string;
  const start = async () => {
    const started = await startSingleProcess(EMBEDDED, dataDir);
    leftovers.process(started.parley);
    return started;
  };
  const signsIn = async (base: string, email: string) =>
    (await call(base, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } })).status;

  before(async () => {
    dataDir = await leftovers.dataDir('parley-data-dir-lock-');
  });
  after(() => leftovers.cleanUp());

  it('refuses a second process on the data dir in use, and is not blocked by what a killed one left', async () => {
    const first = await start();
    await register(first.base, 'before@example.com');

    // Two processes writing one PGlite directory lost the rows of both: the second must not start.
    const second = await spawnSingleProcess(EMBEDDED, dataDir);
    leftovers.process(second.parley);
    const outcome = await Promise.race([
      second.parley.exited.then((code) => `exited with ${code}`),
      second.parley.waitFor('/ready', 90_000).then(
        () => 'ready',
        () => 'exited',
      ),
    ]);
    assert.match(outcome, /^exited with [1-9]/, 'the second process does not start');
    assert.match(second.parley.output(), /in use by another Parley process/);
    await register(first.base, 'during@example.com');

    // What a SIGKILL leaves (the crash tests restart over a dead pid's lock), with the pid another process
    // has since, as in a restarted container: this test's own, running; the lock untouched for a minute.
    first.parley.child.kill('SIGKILL');
    await first.parley.exited;
    const lock = join(dataDir, 'pglite.lock');
    await writeFile(lock, `${process.pid}\n`);
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(lock, minuteAgo, minuteAgo);
    const third = await start();
    assert.equal(await signsIn(third.base, 'before@example.com'), 200);
    assert.equal(await signsIn(third.base, 'during@example.com'), 200);
    assert.equal(await third.parley.stop(15_000), 0);
    await assert.rejects(access(lock), 'a clean stop leaves no lock');
  });

  it('refuses while the holder is stopped (Ctrl-Z), though it touches its lock no more', {
    skip: process.platform !== 'linux' && 'reads the process state from /proc',
  }, async () => {
    // A stand-in holder, stopped: alive, silent, and it would write again once continued.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const holderExited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      holder.kill('SIGSTOP');
      const lock = join(dataDir, 'pglite.lock');
      await writeFile(lock, `${holder.pid}\n`);
      const minuteAgo = new Date(Date.now() - 60_000);
      await utimes(lock, minuteAgo, minuteAgo);
      const next = await spawnSingleProcess(EMBEDDED, dataDir);
      leftovers.process(next.parley);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        next.parley.exited,
        new Promise((resolve) => {
          timer = setTimeout(() => resolve('still running'), 30_000);
        }),
      ]);
      clearTimeout(timer);
      assert.ok(typeof code === 'number' && code !== 0, `refused (${String(code)})`);
      assert.match(
        next.parley.output(),
        new RegExp(`in use by another Parley process \\(pid ${holder.pid}\\)`),
      );
    } finally {
      holder.kill('SIGKILL');
      await holderExited;
    }
  });
});
