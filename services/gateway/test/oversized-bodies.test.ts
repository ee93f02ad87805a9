import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { echo, identityServing, type StubUpstream, startStub } from './support/stub-upstream.ts';
import { createSigner, type TestSigner } from './support/tokens.ts';

interface Outcome {
  /** Everything the gateway sent before it closed the connection. */
  received: string;
  /** Body bytes the client had written when the connection closed. */
  sent: number;
}

/**
 * Opens a connection and writes `head`, then `initial` (a part of the length the head announces: the rest
 * never comes) or, with `keepStreaming`, chunk after chunk for as long as the connection is open, answered
 * or not, as a client that does not read the answer would. Resolves when the gateway closes the
 * connection; rejects after `timeoutMs`: a gateway still reading the body (to drop it or hold it) by then
 * has not cut it off.
 */
function oversizedExchange(
  url: string,
  head: string,
  options: { initial?: string; keepStreaming?: boolean; timeoutMs?: number },
): Promise<Outcome> {
  const { hostname, port } = new URL(url);
  const timeoutMs = options.timeoutMs ?? 3000;
  return new Promise((resolve, reject) => {
    let received = '';
    let sent = 0;
    const socket: Socket = connect(Number(port), hostname, () => {
      socket.write(head);
      if (options.initial) {
        socket.write(options.initial);
        sent += options.initial.length;
      }
      if (options.keepStreaming) pump();
    });
    const chunk = `${(64 * 1024).toString(16)}\r\n${'c'.repeat(64 * 1024)}\r\n`;
    const pump = (): void => {
      while (!socket.destroyed) {
        sent += 64 * 1024;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      received += data;
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${timeoutMs} ms; ${sent} bytes sent; received: ${received}`));
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, sent });
    });
    // The gateway may reset a connection whose bytes it stopped reading: the answer came before.
    socket.on('error', () => {});
  });
}

describe('bodies over the limit through the gateway', () => {
  let signer: TestSigner;
  let identity: StubUpstream;
  let chat: StubUpstream;
  let gateway: GatewayUnderTest;
  let token: string;

  before(async () => {
    signer = await createSigner();
    identity = await startStub(identityServing(signer));
    chat = await startStub(echo('chat'));
    gateway = await startGateway({
      env: {
        PARLEY_UPSTREAM_IDENTITY: identity.url,
        PARLEY_UPSTREAM_CHAT: chat.url,
        PARLEY_BODY_LIMIT: '2048',
        PARLEY_UPLOAD_MAX_BYTES: '4096',
      },
    });
    token = await signer.sign({ sub: 'usr_alice' });
  });

  after(async () => {
    await gateway.close();
    await Promise.all([identity.close(), chat.close()]);
  });

  const head = (path: string, framing: string) =>
    `POST ${path} HTTP/1.1\r\nhost: parley.test\r\nauthorization: Bearer ${token}\r\n` +
    `content-type: application/octet-stream\r\n${framing}\r\n\r\n`;

  /** The 413 problem, with the connection closed: nothing after the refused head is read. */
  function assertRefused(received: string): void {
    const end = received.indexOf('\r\n\r\n');
    assert.ok(end > 0, `no answer: ${received}`);
    const answerHead = received.slice(0, end);
    assert.match(answerHead, /^HTTP\/1\.1 413 /);
    assert.match(answerHead, /\r\ncontent-type: application\/problem\+json/i);
    assert.match(answerHead, /\r\nconnection: close/i);
    const problem = JSON.parse(received.slice(end + 4)) as { status: number; code: string };
    assert.equal(problem.status, 413);
    assert.equal(problem.code, 'payload_too_large');
  }

  // Buffered (JSON) and streamed (upload) routes alike.
  for (const path of ['/api/v1/conversations', '/api/v1/uploads']) {
    it(`${path}: a Content-Length over the limit gets 413 at once, the connection closed without the body`, async () => {
      const before = chat.traffic().length;
      const outcome = await oversizedExchange(gateway.url, head(path, 'content-length: 1000000000'), {
        initial: 'x'.repeat(100),
      });
      assertRefused(outcome.received);
      assert.equal(chat.traffic().length, before, 'no upstream saw the request');
    });

    it(`${path}: a chunked body that goes on past the limit is cut off, the connection closed`, async () => {
      const outcome = await oversizedExchange(gateway.url, head(path, 'transfer-encoding: chunked'), {
        keepStreaming: true,
      });
      assertRefused(outcome.received);
      // What the gateway read before the cut is the limit and its socket buffers, not the stream.
      assert.ok(outcome.sent < 64 * 1024 * 1024, `${outcome.sent} bytes went in before the cut`);
    });
  }
});
