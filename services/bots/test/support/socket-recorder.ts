import type { Message, MessageDeltaEvent } from '@parley/contracts';
import type { ClientSocket } from './harness.ts';
import { waitFor } from './harness.ts';

export type Recorded = { kind: 'delta'; event: MessageDeltaEvent } | { kind: 'message'; message: Message };

/** Everything a client socket hears, in arrival order. */
export class SocketRecorder {
  readonly events: Recorded[] = [];

  constructor(socket: ClientSocket) {
    socket.on('message:delta', (event) => this.events.push({ kind: 'delta', event }));
    socket.on('message:new', (message) => this.events.push({ kind: 'message', message }));
  }

  deltas(draftId: string): MessageDeltaEvent[] {
    return this.events.flatMap((entry) =>
      entry.kind === 'delta' && entry.event.draftId === draftId ? [entry.event] : [],
    );
  }

  /** Where the message with this clientMessageId arrived among the events (-1: not yet). */
  positionOf(clientMessageId: string): number {
    return this.events.findIndex(
      (entry) => entry.kind === 'message' && entry.message.clientMessageId === clientMessageId,
    );
  }

  async waitForMessage(clientMessageId: string, timeoutMs = 10_000): Promise<Message> {
    await waitFor(() => this.positionOf(clientMessageId) >= 0, timeoutMs);
    const entry = this.events[this.positionOf(clientMessageId)]!;
    if (entry.kind !== 'message') throw new Error('unreachable');
    return entry.message;
  }
}

/**
 * How a client assembles a streamed reply: `index` is the delta's offset in the text, so text it already
 * has (from `sync`'s drafts) is skipped and a gap shows as an error instead of garbled text.
 */
export function assemble(start: string, deltas: readonly MessageDeltaEvent[]): string {
  let text = start;
  for (const { delta, index } of deltas) {
    if (index > text.length) throw new Error(`gap: have ${text.length} characters, delta starts at ${index}`);
    if (index + delta.length > text.length) text += delta.slice(text.length - index);
  }
  return text;
}
