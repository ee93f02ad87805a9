import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { rawExchange } from './support/raw-request.ts';
import { type StubUpstream, startStub } from './support/stub-upstream.ts';

interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/** Splits what came back on one connection into its answers (each with a Content-Length). */
function answers(received: string): RawAnswer[] {
  const found: RawAnswer[] = [];
  let rest = received;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `an answer without the end of its head: ${rest}`);
    const head = rest.slice(0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    found.push({
      status: Number(head.slice(9, 12)),
      head,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  assert.equal(rest, '', 'nothing but whole answers on the connection');
  return found;
}

function assertProblem(answer: RawAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.head);
  assert.match(answer.head, /\r\ncontent-type: application\/problem\+json/i);
  assert.match(answer.head, /\r\nx-request-id: [\w.:@-]+/i);
  assert.match(answer.head, /\r\nconnection: close/i);
  assert.match(answer.head, /\r\nx-content-type-options: nosniff/i);
  const problem = JSON.parse(answer.body) as { status: number; code: string };
  assert.equal(problem.status, status);
  assert.equal(problem.code, code);
}

describe('requests the HTTP parser refuses', () => {
  let identity: StubUpstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    identity = await startStub(async (request, response) => {
      // Long enough for a pipelined request behind this one to have been read (and refused) meanwhile.
      if (request.url === '/.well-known/slow') await new Promise((resolve) => setTimeout(resolve, 300));
      const body = JSON.stringify({ url: request.url });
      response
        .writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
        .end(body);
    });
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_IDENTITY: identity.url } });
  });

  after(async () => {
    await gateway.close();
    await identity.close();
  });

  const malformed: Record<string, string> = {
    'both Content-Length and Transfer-Encoding':
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'two different Content-Lengths':
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}',
    'Transfer-Encoding: chunked, identity':
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    'an obs-fold header': 'GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-Foo: a\r\n bar\r\n\r\n',
    'bare LF line endings': 'GET /.well-known/jwks.json HTTP/1.1\nHost: x\n\n',
    'an invalid chunk size':
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  };
  /** One refused request on a connection: its problem is the only answer, and the upstream saw nothing. */
  const assertRefusedAlone = async (bytes: string, status: number, code: string) => {
    const before = identity.traffic().length;
    const [answer, ...more] = answers(await rawExchange(gateway.url, bytes));
    assert.ok(answer);
    assertProblem(answer, status, code);
    assert.equal(more.length, 0);
    assert.equal(identity.traffic().length, before, 'the upstream saw nothing');
  };

  for (const [name, bytes] of Object.entries(malformed)) {
    it(`answers ${name} with a 400 problem and closes, passing nothing on`, () =>
      assertRefusedAlone(bytes, 400, 'bad_request'));
  }

  it('answers an HTTP/1.1 request without a Host header with a 400 problem, passing nothing on', () =>
    assertRefusedAlone(
      'GET /.well-known/jwks.json HTTP/1.1\r\nConnection: close\r\n\r\n',
      400,
      'bad_request',
    ));

  it('answers an expectation other than 100-continue with a 417 problem, passing nothing on', () =>
    assertRefusedAlone(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}',
      417,
      'expectation_failed',
    ));

  it('answers CONNECT with a 405 problem instead of dropping the connection', () =>
    assertRefusedAlone(
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      405,
      'method_not_allowed',
    ));

  it('answers oversized headers with a 431 problem', async () => {
    const bytes = `GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    const [answer] = answers(await rawExchange(gateway.url, bytes));
    assert.ok(answer);
    assertProblem(answer, 431, 'headers_too_large');
  });

  it('answers the valid requests before a malformed pipelined one first, each with its own answer', async () => {
    const bytes =
      'GET /.well-known/slow HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n';
    const [first, second, ...more] = answers(await rawExchange(gateway.url, bytes));
    assert.ok(first && second, 'two answers');
    assert.equal(first.status, 200, `the valid request is answered first, by the upstream: ${first.head}`);
    assert.equal((JSON.parse(first.body) as { url: string }).url, '/.well-known/slow');
    assertProblem(second, 400, 'bad_request');
    assert.equal(more.length, 0);
  });
});

/**
 * Sends `head` on a new connection, then one byte of body every `everyMs` without ever finishing it; resolves
 * with what the server sent and how long it took it to close the connection (rejects after `giveUpMs`).
 */
function trickle(url: string, head: string, everyMs: number, giveUpMs: number) {
  const { hostname, port } = new URL(url);
  return new Promise<{ received: string; ms: number }>((resolve, reject) => {
    const started = Date.now();
    let received = '';
    const socket = connect(Number(port), hostname, () => socket.write(head));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    const drip = setInterval(() => {
      if (socket.writable) socket.write(' ');
    }, everyMs);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection was still open after ${giveUpMs} ms; received: ${received}`));
    }, giveUpMs);
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(timer);
      resolve({ received, ms: Date.now() - started });
    });
    socket.on('error', () => {});
  });
}

describe('a client that sends its request slowly', () => {
  let identity: StubUpstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    identity = await startStub(async (request, response) => {
      if (request.url === '/.well-known/long') {
        // An answer that takes longer than the request timeout: that limit is on receiving the request.
        response.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 5; i++) {
          response.write(`${i}`);
          await new Promise((resolve) => setTimeout(resolve, 400));
        }
        response.end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    gateway = await startGateway({
      env: { PARLEY_UPSTREAM_IDENTITY: identity.url, PARLEY_REQUEST_TIMEOUT_MS: '1000' },
    });
  });

  after(async () => {
    await gateway.close();
    await identity.close();
  });

  it('is answered 408 and cut off once the request timeout has passed, however it trickles the body', async () => {
    const before = identity.traffic().length;
    const head =
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{';
    const { received, ms } = await trickle(gateway.url, head, 100, 8000);
    const [answer, ...more] = answers(received);
    assert.ok(answer, 'an answer before the connection closed');
    assertProblem(answer, 408, 'request_timeout');
    assert.equal(more.length, 0);
    assert.ok(ms >= 900, `not before the timeout (${ms} ms)`);
    assert.equal(identity.traffic().length, before, 'the upstream saw nothing');
  });

  it('lets an answer take longer than the request timeout', async () => {
    const response = await fetch(`${gateway.url}/.well-known/long`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '01234');
  });
});
