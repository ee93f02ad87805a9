import { spawnSync } from 'node:child_process';
import { PARLEY_NODE_FLAGS } from '../../apps/server/src/node-flags.ts';

const optionName = (flag: string) => flag.split('=')[0]!;
const shippedOptions = new Set(PARLEY_NODE_FLAGS.map(optionName));

/**
 * For a benchmark that runs Parley in its own process: unless this process was started with Parley's V8
 * flags, runs the same script again with them and exits with its status, so Parley is measured as it
 * ships. A flag given explicitly (`node --max-semi-space-size=16 --import tsx bench/chat.ts`) is kept,
 * which is how a comparison against other settings is run.
 */
export function relaunchWithShippingFlags(): void {
  const given = new Set(process.execArgv.map(optionName));
  const missing = PARLEY_NODE_FLAGS.filter((flag) => !given.has(optionName(flag)));
  if (missing.length === 0) return;
  const result = spawnSync(process.execPath, [...missing, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}

/** What this process runs with of the options Parley ships with, for a benchmark's conditions line. */
export const shippingFlagsInUse = () =>
  process.execArgv.filter((arg) => shippedOptions.has(optionName(arg))).join(' ') || 'no V8 flags';
