import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { it } from 'node:test';
import { processTreeCpuMs } from './process-cpu.ts';

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
