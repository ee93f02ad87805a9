import { spawn, spawnSync } from 'node:child_process';
import type { LoadOptions, LoadResult } from './load.ts';

/** Whether wrk (Debian's package `wrk`) is installed. */
export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`wrk exited with ${code}: ${output}`)),
    );
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latencyMs(output: string, percent: string): number {
  const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
  return match ? Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1) : Number.NaN;
}

/**
 * The same closed loop as runLoad, driven by wrk: one thread of C instead of a Node process, so on a small
 * machine the load generator does not take the cores the servers being compared need.
 */
export async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const url = `${options.url}${options.path}`;
  const common = ['-t1', `-c${options.concurrency}`, '--latency'];
  for (const [name, value] of Object.entries(options.headers)) common.push('-H', `${name}: ${value}`);
  await run([...common, `-d${Math.max(1, Math.round(options.warmupMs / 1000))}s`, url]);
  const seconds = Math.max(1, Math.round(options.durationMs / 1000));
  options.onMeasuring?.();
  const output = await run([...common, `-d${seconds}s`, url]);
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? Number.NaN);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const errors =
    non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0);
  return {
    requests,
    errors,
    seconds,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? Number.NaN),
    p50: latencyMs(output, '50'),
    p99: latencyMs(output, '99'),
  };
}
