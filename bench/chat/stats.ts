import { processTreeCpuMs } from '../support/process-cpu.ts';
import type { LatencySummary } from './protocol.ts';

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function summarize(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), samples: sorted.length };
}

/** A figure for printing; a missing one (no samples: NaN, which IPC turns into null) prints as n/a. */
export const fmt = (n: number | null, digits = 1) =>
  typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : 'n/a';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `tick` at `rate` per second for `ms` (open loop: independent of how fast answers come). */
export async function pace(rate: number, ms: number, tick: () => void): Promise<void> {
  const interval = 1000 / rate;
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < ms) {
    const due = Math.floor((performance.now() - started) / interval);
    while (sent < due) {
      tick();
      sent++;
    }
    await sleep(1);
  }
}

/**
 * Runs `task` at `rate` per second for `ms`, open loop, and times each one that succeeds; one that answers
 * false or fails is counted, not timed.
 */
export async function pacedLatency(
  rate: number,
  ms: number,
  task: () => Promise<boolean>,
): Promise<{ ack: LatencySummary; failed: number }> {
  const latencies: number[] = [];
  const outstanding: Promise<void>[] = [];
  let failed = 0;
  await pace(rate, ms, () => {
    const started = performance.now();
    outstanding.push(
      task().then(
        (ok) => {
          if (ok) latencies.push(performance.now() - started);
          else failed++;
        },
        () => {
          failed++;
        },
      ),
    );
  });
  await Promise.all(outstanding);
  return { ack: summarize(latencies), failed };
}

/**
 * Microseconds of this process's CPU (user + system) that `work` took, per unit it reports; and the same
 * for other processes named by the root of their tree (PostgreSQL, the load process), where /proc has them.
 */
export async function cpuPer<T, K extends string = never>(
  work: () => Promise<T>,
  units: (result: T) => number,
  others: Partial<Record<K, number>> = {},
) {
  const roots = Object.entries(others) as [K, number][];
  const othersBefore = roots.map(([, pid]) => processTreeCpuMs(pid));
  const before = process.cpuUsage();
  const result = await work();
  const used = process.cpuUsage(before);
  const count = Math.max(1, units(result));
  const othersPerUnitUs: Partial<Record<K, number>> = {};
  roots.forEach(([name, pid], at) => {
    const start = othersBefore[at];
    const end = processTreeCpuMs(pid);
    if (start !== undefined && end !== undefined) othersPerUnitUs[name] = ((end - start) * 1000) / count;
  });
  return { result, cpuPerUnitUs: (used.user + used.system) / count, othersPerUnitUs };
}
