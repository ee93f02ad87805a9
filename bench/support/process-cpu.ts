import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime: 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

interface Stat {
  parent: number;
  cpuMs: number;
}

function commandName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The postmaster of the PostgreSQL server that runs `backendPid` (a connection's pg_backend_pid()), whose
 * descendants are every backend of that server: with several servers on the machine, the first one found
 * need not be the bench's. Undefined where that is no local PostgreSQL backend (the server runs elsewhere,
 * or behind another PID namespace) or there is no /proc.
 */
export function localPostgresPid(backendPid: number): number | undefined {
  if (commandName(backendPid) !== 'postgres') return undefined;
  const parent = stat(backendPid)?.parent;
  if (parent === undefined || commandName(parent) !== 'postgres') return undefined;
  // The postmaster's own parent is no postgres; a backend's parent always is.
  const grandparent = stat(parent)?.parent;
  return grandparent !== undefined && commandName(grandparent) !== 'postgres' ? parent : undefined;
}

/** The entries of /proc, none where there is no /proc (macOS). */
function processIds(): string[] {
  try {
    return readdirSync('/proc');
  } catch {
    return [];
  }
}

function stat(pid: number): Stat | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: the fields that follow start after its last ')'.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // utime and stime, then cutime and cstime: what its children used before they exited and were waited
    // for. A living child is counted by its own fields, so nothing is counted twice.
    const ticks = [11, 12, 13, 14].reduce((sum, at) => sum + Number(fields[at]), 0);
    return { parent: Number(fields[1]), cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system) used so far by a process and its descendants (nginx's workers), from /proc:
 * the living ones, and those that exited and were waited for (PostgreSQL's backends and vacuum workers,
 * reaped by the postmaster); undefined where there is no /proc. Lets a benchmark say what each process
 * costs per request, a figure that moves far less with the machine's noise than throughput does.
 */
export function processTreeCpuMs(root: number): number | undefined {
  if (stat(root) === undefined) return undefined;
  const children = new Map<number, number[]>();
  for (const entry of processIds()) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const parent = stat(pid)?.parent;
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  let total = 0;
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    total += stat(pid)?.cpuMs ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}
