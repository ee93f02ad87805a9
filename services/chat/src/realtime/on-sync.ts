import { SyncPayload } from '@parley/contracts';
import { conflict } from '@parley/kernel';
import { Compile } from 'typebox/compile';
import type { SocketContext } from './context.ts';
import { eventHandler } from './handle.ts';

/** Compiled once per process, not per socket: validators are code, and sockets are many. */
const validator = Compile(SyncPayload);

/**
 * `sync` → `{ ok, messages, changes, more, drafts, syncToken }`: the catch-up after a reconnect. One at a
 * time per socket: a catch-up can be megabytes, and a client never needs two at once, while dozens in
 * flight from one socket would hold them all in memory together.
 */
export function onSync(context: SocketContext) {
  let running = false;
  return eventHandler('sync', validator, context, async (payload) => {
    if (running)
      throw conflict(
        'A sync is already running on this connection; wait for its answer.',
        'sync_in_progress',
      );
    running = true;
    try {
      return await context.services.sync.sync(context.principal, payload.conversations, payload.since);
    } finally {
      running = false;
    }
  });
}
