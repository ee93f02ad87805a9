import { readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isProcessAlive } from '@parley/kernel';

/** How often the holder touches its lock; a lock untouched for STALE_MS is a dead holder's. */
const HEARTBEAT_MS = 1000;
const STALE_MS = 4 * HEARTBEAT_MS;

export class DataDirInUseError extends Error {
  constructor(directory: string, pid: number) {
    super(
      `the embedded database in ${directory} is in use by another Parley process (pid ${pid}); ` +
        'stop it first, or give this one its own PARLEY_DATA_DIR',
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * One process at a time on an embedded database: PGlite has no lock of its own, and two processes writing
 * one directory lost every row both wrote. The holder's pid is in the file and the holder touches it every
 * second, so a lock left by a killed process never blocks: its pid is gone, or (the pid taken by another
 * process since, as in a restarted container) it stops being touched and is taken over a few seconds later.
 */
export async function lockDataDir(lockPath: string, directory: string): Promise<DataDirLock> {
  const path = resolve(lockPath);
  if (held.has(path)) throw new DataDirInUseError(directory, process.pid);
  held.add(path);
  try {
    await acquire(path, directory);
  } catch (error) {
    held.delete(path);
    throw error;
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      if ((await readHolder(path))?.pid === process.pid) await unlink(path).catch(() => {});
      held.delete(path);
    },
  };
}

/** The locks this process holds: a file with our own pid is one of them, or an earlier life's. */
const held = new Set<string>();

async function acquire(path: string, directory: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
    }
    const holder = await readHolder(path);
    if (holder === undefined) continue;
    // A pid equal to ours is an earlier life of this process (a container restarted).
    if (holder.pid !== process.pid && isProcessAlive(holder.pid)) {
      // A stopped holder (Ctrl-Z) touches nothing but resumes writing when continued.
      if (await isStopped(holder.pid)) throw new DataDirInUseError(directory, holder.pid);
      const judged = await watch(path, holder.mtimeMs);
      if (judged === 'gone') continue;
      if (judged === 'touched') throw new DataDirInUseError(directory, holder.pid);
    }
    // Taken over only if it is still the lock judged stale, not one another starter has just made.
    const again = await readHolder(path);
    if (again?.pid === holder.pid && again.mtimeMs === holder.mtimeMs) await unlink(path).catch(() => {});
  }
}

async function readHolder(path: string): Promise<{ pid: number; mtimeMs: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { pid: Number.parseInt(text, 10), mtimeMs: info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Linux only (elsewhere false): whether the process is stopped by a signal or a tracer. */
async function isStopped(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The state follows the command name, which is in parentheses and may hold any character.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'T' || state === 't';
}

/** Whether the lock's holder still touches it: `stale` once it has gone STALE_MS untouched. */
async function watch(path: string, mtimeMs: number): Promise<'touched' | 'stale' | 'gone'> {
  const deadline = Math.max(mtimeMs + STALE_MS, Date.now());
  for (;;) {
    const holder = await readHolder(path);
    if (holder === undefined) return 'gone';
    if (holder.mtimeMs !== mtimeMs) return 'touched';
    if (Date.now() >= deadline) return 'stale';
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, deadline - Date.now())));
  }
}
