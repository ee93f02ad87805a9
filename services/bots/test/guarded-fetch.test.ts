import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { EgressGuard } from '../src/egress/egress-guard.ts';
import { EgressDeniedError, EgressPolicy } from '../src/egress/egress-policy.ts';

/*
 * The guard's fetch is what the OpenAI SDK sends every provider request through; it must behave as fetch
 * does for everything the SDK relies on: the request as given, the answer's status and headers, and a body
 * that streams as it arrives and stops when the caller aborts.
 */
describe('the guarded fetch the OpenAI SDK is given', () => {
  let base: string;
  let guard: EgressGuard;
  let seen: { method: string; headers: IncomingMessage['headers']; body: string } | undefined;
  let releaseSecondChunk: () => void = () => {};
  let clientGone: Promise<void> = Promise.resolve();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      seen = { method: request.method ?? '', headers: request.headers, body };
      switch (request.url) {
        case '/stream': {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.write('data: first\n\n');
          const second = new Promise<void>((resolve) => {
            releaseSecondChunk = resolve;
          });
          clientGone = new Promise((resolve) => response.once('close', () => resolve()));
          void second.then(() => response.end('data: second\n\n'));
          return;
        }
        case '/cookies':
          response.setHeader('set-cookie', ['a=1', 'b=2']);
          response.writeHead(201, { 'x-request-id': 'req-1' }).end('created');
          return;
        case '/empty':
          response.writeHead(204).end();
          return;
        case '/moved':
          response.writeHead(302, { location: '/cookies' }).end();
          return;
        case '/inward':
          response.writeHead(307, { location: 'http://10.1.2.3/v1/chat/completions' }).end();
          return;
        default:
          response.writeHead(404).end();
      }
    });
  });

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    guard = new EgressGuard(new EgressPolicy(['127.0.0.1']));
  });
  after(async () => {
    await guard.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends the method, headers and body as given', async () => {
    const headers = new Headers({ authorization: 'Bearer sk-test', 'content-type': 'application/json' });
    const response = await guard.fetch(`${base}/cookies`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'm' }),
    });
    assert.equal(seen?.method, 'POST');
    assert.equal(seen?.headers.authorization, 'Bearer sk-test');
    assert.equal(seen?.headers['content-type'], 'application/json');
    assert.equal(seen?.body, '{"model":"m"}');
    assert.equal(response.status, 201);
    assert.equal(response.ok, true);
    assert.equal(response.headers.get('x-request-id'), 'req-1');
    assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.equal(await response.text(), 'created');
  });

  it('streams the body as it arrives, before the server has finished', async () => {
    const response = await guard.fetch(`${base}/stream`, { method: 'POST', body: '{}' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), 'data: first\n\n');
    releaseSecondChunk();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    assert.equal(rest, 'data: second\n\n');
  });

  it('stops the body and the connection when the caller aborts', async () => {
    const controller = new AbortController();
    const response = await guard.fetch(`${base}/stream`, {
      method: 'POST',
      body: '{}',
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    await assert.rejects(reader.read(), (error: Error) => error.name === 'AbortError');
    await clientGone;
    releaseSecondChunk();
  });

  it('fails the body, never hangs it, when the connection breaks mid-body', async () => {
    const response = await guard.fetch(`${base}/stream`, { method: 'POST', body: '{}' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    server.closeAllConnections();
    await assert.rejects(reader.read());
    releaseSecondChunk();
  });

  it('lets the caller cancel the body, closing the connection', async () => {
    const response = await guard.fetch(`${base}/stream`, { method: 'POST', body: '{}' });
    await response.body?.cancel();
    await clientGone;
    releaseSecondChunk();
  });

  it('answers a 204 without a body', async () => {
    const empty = await guard.fetch(`${base}/empty`);
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
  });

  it('follows a redirect, but never to an internal address', async () => {
    const moved = await guard.fetch(`${base}/moved`);
    assert.equal(moved.status, 201);
    assert.equal(await moved.text(), 'created');
    await assert.rejects(guard.fetch(`${base}/inward`, { method: 'POST', body: '{}' }), (error) => {
      let cause: unknown = error;
      while (cause && !(cause instanceof EgressDeniedError)) cause = (cause as { cause?: unknown }).cause;
      return cause instanceof EgressDeniedError;
    });
  });

  it('takes a Request object too', async () => {
    const response = await guard.fetch(new Request(`${base}/cookies`, { method: 'PUT', body: 'x' }));
    assert.equal(response.status, 201);
    assert.equal(seen?.method, 'PUT');
    assert.equal(seen?.body, 'x');
    await response.body?.cancel();
  });
});
