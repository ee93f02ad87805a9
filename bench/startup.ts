// Time from spawning `npm start`'s entry point to a healthy /health, on an empty data dir (first start:
// database created, migrations, admin and default bot) and again on the same data dir (second start).
// Target: first start healthy in under 10 s. Baseline: the same process with no services (PARLEY_SERVICES=gateway).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environmentForChildren } from '@parley/kernel';
import { parleyNodeArguments } from '../apps/server/src/node-flags.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = join(root, 'apps/server/src/main.ts');
const port = 18_080;

async function timeStart(env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, parleyNodeArguments(main), {
    cwd: root,
    env: environmentForChildren({
      DATABASE_URL: '',
      REDIS_URL: '',
      NATS_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    }),
    stdio: 'ignore',
  });
  try {
    while (performance.now() - started < 60_000) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('not healthy within 60 s');
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

const dataDir = await mkdtemp(join(tmpdir(), 'parley-startup-'));
try {
  const baseline = await timeStart({ PARLEY_DATA_DIR: dataDir, PARLEY_SERVICES: 'gateway' });
  const first = await timeStart({ PARLEY_DATA_DIR: join(dataDir, 'all') });
  const second = await timeStart({ PARLEY_DATA_DIR: join(dataDir, 'all') });
  console.log(
    `machine: ${cpus().length} cores, node ${process.version}, load average ${loadavg()[0]?.toFixed(2)}`,
  );
  console.log(`baseline: process with no services healthy after   ${baseline.toFixed(0)} ms`);
  console.log(
    `first start (empty data dir) healthy after         ${first.toFixed(0)} ms  (target < 10000 ms)`,
  );
  console.log(`second start (same data dir) healthy after         ${second.toFixed(0)} ms`);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
