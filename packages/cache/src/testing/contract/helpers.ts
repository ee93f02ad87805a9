import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache, Unsubscribe } from '../../cache.ts';
import type { ContractContext } from './context.ts';

export { sleep };

/** A key (or channel) no other test, or earlier run against the same backend, uses. */
export function uniqueKey(label: string): string {
  return `${label}:${randomUUID()}`;
}

/** Polls until the condition holds; fails with `what` after `timeoutMs` so a lost message is a clear error. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export interface Inbox {
  messages: string[];
  unsubscribe: Unsubscribe;
  /** Resolves once at least `count` messages arrived. */
  receive(count: number): Promise<void>;
}

export async function subscribeInbox(cache: Cache, channel: string): Promise<Inbox> {
  const messages: string[] = [];
  const unsubscribe = await cache.subscribe(channel, (message) => messages.push(message));
  return {
    messages,
    unsubscribe,
    receive: (count) => waitFor(() => messages.length >= count, `${count} message(s) on ${channel}`),
  };
}

/**
 * The caches that race for one key: the suite's own and, where instances share state, a second instance,
 * so the race spans connections as it spans processes in production. Writer `i` alternates between them.
 */
export async function concurrentWriters(context: ContractContext) {
  const own = context.cache();
  const other = context.sharesStateAcrossInstances ? await context.make() : own;
  return {
    cache: (i: number): Cache => (i % 2 === 0 ? own : other),
    close: async () => {
      if (other !== own) await other.close();
    },
  };
}
