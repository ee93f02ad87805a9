import { SyncPayload } from '@parley/contracts';
import { Compile } from 'typebox/compile';
import type { SocketContext } from './context.ts';
import { eventHandler } from './handle.ts';

/** Compiled once per process, not per socket: validators are code, and sockets are many. */
const validator = Compile(SyncPayload);

/** `sync` → `{ ok, messages, changes, more, drafts, syncToken }`: the catch-up after a reconnect. */
export function onSync(context: SocketContext) {
  return eventHandler(validator, context, async (payload) =>
    context.services.sync.sync(context.principal, payload.conversations, payload.since),
  );
}
