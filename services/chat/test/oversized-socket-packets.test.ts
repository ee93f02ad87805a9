import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { io } from 'socket.io-client';
import { type ChatClient, connect } from './support/clients.ts';
import { type ChatHarness, startChat, type TestUser } from './support/harness.ts';

/** Resolves with the first of `events` the socket emits, or rejects after `timeoutMs`. */
function firstOf(socket: ChatClient, events: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`none of ${events.join(', ')} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    for (const event of events)
      (socket as unknown as { once(event: string, listener: () => void): void }).once(event, () => {
        clearTimeout(timer);
        resolve(event);
      });
  });
}

describe('a Socket.IO packet over maxHttpBufferSize', () => {
  let chat: ChatHarness;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    chat = await startChat({ listen: true });
    alice = await chat.user();
    bob = await chat.user();
  });
  after(async () => chat.close());

  // The harness's 16 KiB message limit makes maxHttpBufferSize 160 KiB.
  const oversized = 'x'.repeat(200 * 1024);

  // Both transports alike: the sender's session ends (its packets are lost), the client reconnects with a
  // new one, and other sockets carry on.
  for (const transport of ['polling', 'websocket'] as const) {
    it(`over ${transport}: ends the sender's session, which reconnects; other sockets unaffected`, async () => {
      const bystander = await connect(chat.url, bob.token);
      const sender: ChatClient = io(chat.url, {
        auth: { token: alice.token },
        transports: [transport],
        forceNew: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 50,
      });
      const engine = () => (sender.io as unknown as { engine: { id: string | null } }).engine;
      try {
        await firstOf(sender, ['connect'], 5000);
        const firstSession = engine().id;
        // The ack never comes: the packet is refused before any handler sees it.
        sender.emit('typing', { conversationId: oversized, typing: true }, () => {});
        await firstOf(sender, ['disconnect'], 5000);
        const poll = await fetch(`${chat.url}/socket.io/?EIO=4&transport=polling&sid=${firstSession}`, {
          signal: AbortSignal.timeout(2000),
        });
        assert.equal(((await poll.json()) as { code: string }).code, 'unknown_session');
        await firstOf(sender, ['connect'], 5000);
        assert.notEqual(engine().id, firstSession);
        assert.ok(bystander.connected, 'the other socket is still connected');
      } finally {
        sender.close();
        bystander.close();
      }
    });
  }
});
