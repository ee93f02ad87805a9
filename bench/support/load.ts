import { Pool } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
}

export interface LoadOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** Requests in flight at once, each on its own keep-alive connection. */
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Called when the warm-up is over and the measured part begins. */
  onMeasuring?: () => void;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * A closed-loop load generator: `concurrency` loops, each sending the next request as soon as the previous
 * answered, over undici keep-alive connections. Latencies of the warm-up are dropped.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(options.url, { connections: options.concurrency, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let running = true;
  const loop = async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await pool.request({ path: options.path, method: 'GET', headers: options.headers });
        await response.body.dump();
        if (response.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      if (measuring) latencies.push(performance.now() - started);
    }
  };
  const loops = Array.from({ length: options.concurrency }, loop);
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  measuring = true;
  options.onMeasuring?.();
  const begin = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  measuring = false;
  const seconds = (performance.now() - begin) / 1000;
  running = false;
  await Promise.all(loops);
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: sorted.length,
    errors,
    seconds,
    rps: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}
