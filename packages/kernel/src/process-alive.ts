/**
 * Whether a process with this pid exists on this machine (signal 0 probes without signalling). Used to
 * tell a file left by a process that died (a lock, an unsaved password) from one a running process owns.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, and someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
