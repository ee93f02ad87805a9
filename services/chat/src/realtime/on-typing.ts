import { TypingPayload } from '@parley/contracts';
import { Compile } from 'typebox/compile';
import { hiddenConversation } from '../domain/access.ts';
import type { SocketContext } from './context.ts';
import { eventHandler } from './handle.ts';

/** Compiled once per process, not per socket: validators are code, and sockets are many. */
const validator = Compile(TypingPayload);

/** `typing` → `{ ok }`; members only, relayed to the other members, never stored. */
export function onTyping(context: SocketContext) {
  return eventHandler(validator, context, async (payload) => {
    const { userId } = context.principal;
    const members = await context.services.conversationsRepository.membersOf([payload.conversationId]);
    if (!members.some((member) => member.userId === userId)) throw hiddenConversation();
    await context.services.typing.update(
      userId,
      context.socketId,
      payload.conversationId,
      payload.typing,
      members.map((member) => member.userId),
    );
    return {};
  });
}
