import { setTimeout as delay } from 'node:timers/promises';

/** Polls until `condition` holds; fails with `what` after `timeoutMs` instead of hanging the suite. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

/**
 * Leaves time for a wrong extra delivery to show up before asserting that none came. Only for checks that
 * have no later event to wait for; short, because a misbehaving bus delivers within milliseconds.
 */
export function settle(ms = 300): Promise<void> {
  return delay(ms);
}
