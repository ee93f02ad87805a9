import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { localPostgresPid, processTreeCpuMs } from './process-cpu.ts';

// Burns 600 ms of its own CPU, however loaded the machine is, then exits.
const BURN = 'while (process.cpuUsage().user < 600_000) {}';

it('counts the CPU of descendants that exited and were waited for (a backend, a vacuum worker)', async () => {
  // The shell waits for its child, as PostgreSQL's postmaster reaps every backend that exits.
  const root = spawn('sh', ['-c', `"${process.execPath}" -e "${BURN}" && echo exited && exec sleep 30`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const exited = once(root.stdout, 'data');
    await Promise.race([
      exited,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the child did not exit')), 20_000).unref(),
      ),
    ]);
    const cpuMs = processTreeCpuMs(root.pid!);
    assert.ok(cpuMs !== undefined && cpuMs >= 550, `the tree used ${cpuMs} ms, its exited child alone 600`);
  } finally {
    root.kill('SIGKILL');
  }
});

it("finds the postmaster of the bench's own connection, not the first PostgreSQL on the machine", async () => {
  // Another server's postmaster and one of its backends, as a second cluster on the machine would run them
  // (by name: a shell called postgres, whose child is one too).
  const dir = await mkdtemp(join(tmpdir(), 'parley-postgres-'));
  const postgres = join(dir, 'postgres');
  await symlink('/bin/sh', postgres);
  const postmaster = spawn(postgres, ['-c', `"${postgres}" -c 'echo started; sleep 30; true' & wait`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await Promise.race([
      once(postmaster.stdout, 'data'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no backend started')), 10_000).unref()),
    ]);
    const backend = Number(
      (await promisify(execFile)('pgrep', ['-P', String(postmaster.pid), '-x', 'postgres'])).stdout.trim(),
    );
    assert.equal(localPostgresPid(backend), postmaster.pid);
    // A process that is no PostgreSQL backend (the server runs elsewhere) names no postmaster.
    assert.equal(localPostgresPid(process.pid), undefined);
  } finally {
    postmaster.kill('SIGKILL');
    await rm(dir, { recursive: true });
  }
});
