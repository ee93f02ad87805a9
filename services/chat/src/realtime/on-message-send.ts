import { MessageSendPayload } from '@parley/contracts';
import { Compile } from 'typebox/compile';
import type { SocketContext } from './context.ts';
import { eventHandler } from './handle.ts';

/** Compiled once per process, not per socket: validators are code, and sockets are many. */
const validator = Compile(MessageSendPayload);

/** `message:send` → `{ ok, message }`, acked once the message is durable; a retry returns the original. */
export function onMessageSend(context: SocketContext) {
  return eventHandler('message:send', validator, context, async (payload) => {
    const { message } = await context.services.messages.send(
      context.principal,
      payload.conversationId,
      payload,
    );
    return { message };
  });
}
