import { ReceiptPayload } from '@parley/contracts';
import { Compile } from 'typebox/compile';
import type { SocketContext } from './context.ts';
import { eventHandler } from './handle.ts';

/** Compiled once per process, not per socket: validators are code, and sockets are many. */
const validator = Compile(ReceiptPayload);

/** `receipt` → `{ ok }`; raises the member's delivered/read high-water mark. */
export function onReceipt(context: SocketContext) {
  return eventHandler('receipt', validator, context, async (payload) => {
    await context.services.receipts.mark(
      context.principal,
      payload.conversationId,
      payload.kind,
      payload.seq,
    );
    return {};
  });
}
