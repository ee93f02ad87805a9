import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sleep } from './stats.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settle(): Promise<void> {
  gc();
  await sleep(200);
  gc();
}

/**
 * Memory this process spends per idle authenticated connection: `count` sockets opened from a child
 * process (so the clients' memory is not counted), heap + external and RSS growth after GC.
 */
export async function memoryPerConnection(url: string, tokens: string[], count: number) {
  await settle();
  const before = process.memoryUsage();
  const child = fork(
    fileURLToPath(new URL('./idle-clients.ts', import.meta.url)),
    [url, tokens.join(','), String(count)],
    {
      execArgv: ['--import', 'tsx'],
    },
  );
  const report = await new Promise<{ connected: number; failed: number }>((resolve) =>
    child.once('message', (m) => resolve(m as { connected: number; failed: number })),
  );
  await sleep(2000);
  await settle();
  const after = process.memoryUsage();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  const connected = Math.max(1, report.connected);
  return {
    ...report,
    heapKiB: (after.heapUsed + after.external - before.heapUsed - before.external) / connected / 1024,
    rssKiB: (after.rss - before.rss) / connected / 1024,
  };
}
