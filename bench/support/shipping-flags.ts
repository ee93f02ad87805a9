import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PARLEY_NODE_FLAGS } from '../../apps/server/src/node-flags.ts';

const optionName = (flag: string) => flag.split('=')[0]!.replaceAll('_', '-');
const shippedOptions = new Set(PARLEY_NODE_FLAGS.map(optionName));

/**
 * For a benchmark that runs Parley in its own process: unless this process was started with Parley's V8
 * flags on its command line, runs the same script again with them and exits as it does, so Parley is
 * measured as it ships. A value given on the command line (`node --max-semi-space-size=16 --import tsx
 * bench/chat.ts`) is kept, which is how a comparison against other settings is run. Ctrl-C and SIGTERM
 * reach the re-run script.
 */
export async function relaunchWithShippingFlags(): Promise<void> {
  const given = new Set(process.execArgv.map(optionName));
  const missing = PARLEY_NODE_FLAGS.filter((flag) => !given.has(optionName(flag)));
  if (missing.length === 0) return;
  const child = spawn(process.execPath, [...missing, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const [code, signal] = (await once(child, 'exit').catch((error: unknown) => {
    console.error(`could not re-run ${process.argv[1]} with ${missing.join(' ')}:`, error);
    return [1, null];
  })) as [number | null, NodeJS.Signals | null];
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  if (signal) process.kill(process.pid, signal);
  process.exit(code ?? 1);
}

/** What this process runs with of the options Parley ships with, for a benchmark's conditions line. */
export const shippingFlagsInUse = () =>
  process.execArgv.filter((arg) => shippedOptions.has(optionName(arg))).join(' ') || 'no V8 flags';
