import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { environmentForChildren } from '@parley/kernel';
import { parleyNodeArguments } from '../node-flags.ts';
import type { ProcessSpec } from './topology.ts';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
/** Kept per process for error messages; older output is dropped. */
const OUTPUT_LIMIT = 512 * 1024;

export interface ParleyProcess {
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  /** Resolves once `path` answers 200; rejects when the process exits first or time runs out. */
  waitFor(path: '/health' | '/ready', timeoutMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs: number): Promise<number | null>;
}

export interface StartOptions {
  /** Each line of output as it arrives (the launcher prints it with the process name). */
  onLine?: (line: string) => void;
  /** Own process group: a terminal's Ctrl-C reaches only the launcher, which stops children in order. */
  detached?: boolean;
}

/** Inherited variables that would make a child something else than its spec says. */
const NOT_INHERITED = /^(PORT|HOST|PARLEY_SERVICES|PARLEY_UPSTREAM_.*)$/;

/** Starts `apps/server/src/main.ts` as a child process configured by the spec's environment. */
export function startParleyProcess(spec: ProcessSpec, options: StartOptions = {}): ParleyProcess {
  const inherited = Object.fromEntries(
    Object.entries(environmentForChildren({})).filter(([name]) => !NOT_INHERITED.test(name)),
  );
  const child = spawn(process.execPath, parleyNodeArguments(MAIN), {
    cwd: ROOT,
    env: { ...inherited, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  let partial = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-OUTPUT_LIMIT);
    if (!options.onLine) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) options.onLine(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return {
    spec,
    child,
    exited,
    output: () => output,
    async waitFor(path, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${spec.name} exited before ${path} answered:\n${output}`);
        }
        try {
          const response = await fetch(`${spec.url}${path}`, { signal: AbortSignal.timeout(2000) });
          await response.body?.cancel();
          if (response.status === 200) return;
        } catch {
          // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`${spec.name}: ${path} did not answer 200 within ${timeoutMs} ms:\n${output}`);
    },
    async stop(timeoutMs) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
