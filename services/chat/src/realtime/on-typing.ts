import { TypingPayload } from '@parley/contracts';
import { Compile } from 'typebox/compile';
import type { SocketContext } from './context.ts';
import { eventHandler } from './handle.ts';

/** Compiled once per process, not per socket: validators are code, and sockets are many. */
const validator = Compile(TypingPayload);

/**
 * `typing` → `{ ok }`; members (not across a block) and staff where they may write, relayed to the other
 * members, never stored.
 */
export function onTyping(context: SocketContext) {
  return eventHandler('typing', validator, context, async (payload) => {
    const { memberIds, asStaff } = await context.services.conversations.typingAudience(
      context.principal,
      payload.conversationId,
    );
    await context.services.typing.update(
      context.principal.userId,
      context.socketId,
      payload.conversationId,
      payload.typing,
      memberIds,
      asStaff,
    );
    return {};
  });
}
