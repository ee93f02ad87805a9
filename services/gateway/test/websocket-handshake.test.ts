import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { ServicePlugin } from '@parley/kernel';
import { Server } from 'socket.io';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { type RawResponse, rawExchange, rawUpgrade } from './support/raw-request.ts';
import { echo, type StubUpstream, startStub } from './support/stub-upstream.ts';

const SOCKET = '/socket.io/?EIO=4&transport=websocket';
/** A well-formed WebSocket offer on the socket path, as raw bytes. */
const VALID_HANDSHAKE =
  `GET ${SOCKET} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

function assertProblem(response: RawResponse, status: number, code: string): void {
  assert.equal(response.status, status);
  assert.equal(response.headers['content-type'], 'application/problem+json');
  assert.match(String(response.headers['x-request-id']), /^[\w.:@-]+$/);
  assert.equal((JSON.parse(response.body) as { code: string }).code, code);
}

/** What every mode of the edge must answer to a WebSocket offer it cannot take, before any node sees it. */
function handshakeContract(start: () => Promise<{ url: string; upgrades: () => number }>) {
  let url: string;
  let upgrades: () => number;
  before(async () => {
    ({ url, upgrades } = await start());
  });

  it('accepts a well-formed handshake on the socket path', async () => {
    const response = await rawUpgrade(`${url}${SOCKET}`);
    assert.equal(response.status, 101);
  });

  it('refuses a missing or malformed Sec-WebSocket-Key with a 400 problem', async () => {
    const before = upgrades();
    for (const key of [undefined, '', '!!!', 'dGhlIHNhbXBsZSBub25jZQ', 'c2hvcnQ=']) {
      const headers: Record<string, string> = key === undefined ? {} : { 'sec-websocket-key': key };
      const response = await rawUpgrade(`${url}${SOCKET}`, headers, { withoutKey: key === undefined });
      assertProblem(response, 400, 'bad_request');
    }
    assert.equal(upgrades(), before, 'no node was asked');
  });

  it('refuses an unknown Sec-WebSocket-Version with a 400 problem naming the one it speaks', async () => {
    const response = await rawUpgrade(`${url}${SOCKET}`, { 'sec-websocket-version': '99' });
    assertProblem(response, 400, 'bad_request');
    assert.equal(response.headers['sec-websocket-version'], '13');
  });

  it('never switches protocols for a handshake that is not a GET', async () => {
    const before = upgrades();
    const response = await rawUpgrade(`${url}${SOCKET}`, {}, { method: 'POST' });
    assert.notEqual(response.status, 101);
    assert.equal(upgrades(), before, 'no node was asked to upgrade');
  });

  it('answers an offer elsewhere than the socket path with a 404 problem, not silence', async () => {
    const response = await rawUpgrade(`${url}/api/v1/auth/me`);
    assertProblem(response, 404, 'not_found');
  });
}

describe('WebSocket handshakes at the edge, in distributed mode', () => {
  let chat: StubUpstream;
  let io: Server;
  let gateway: GatewayUnderTest;
  let upgrades = 0;
  handshakeContract(async () => {
    chat = await startStub(echo('chat'));
    chat.server.prependListener('upgrade', () => {
      upgrades++;
    });
    io = new Server(chat.server, { path: '/socket.io/' });
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: chat.url } });
    return { url: gateway.url, upgrades: () => upgrades };
  });
  after(async () => {
    await gateway.close();
    io.close();
    await chat.close();
  });
});

describe('WebSocket handshakes at the edge, in embedded mode', () => {
  let gateway: GatewayUnderTest;
  let io: Server | undefined;
  let upgrades = 0;
  handshakeContract(async () => {
    // Socket.IO in the gateway's own process, as chat attaches it there.
    const chat: ServicePlugin = {
      name: 'chat',
      plugin: async (app) => {
        app.server.on('upgrade', () => {
          upgrades++;
        });
        io = new Server(app.server, { path: '/socket.io/' });
      },
    };
    gateway = await startGateway({ services: [chat] });
    return { url: gateway.url, upgrades: () => upgrades };
  });
  after(async () => {
    io?.close();
    await gateway.close();
  });
});

describe('a chat node that refuses an upgrade and then stalls', () => {
  const stalled: Duplex[] = [];
  let chat: StubUpstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    chat = await startStub(echo('chat'));
    // Its refusal announces a body it never finishes sending, and the node says nothing more.
    chat.server.on('upgrade', (_request, socket) => {
      stalled.push(socket);
      socket.write(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\npartial',
      );
    });
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: chat.url } });
  });

  after(async () => {
    await gateway.close();
    for (const socket of stalled) socket.destroy();
    await chat.close();
  });

  it('does not leave the client hanging: the connection is closed once the node has gone quiet', async () => {
    // The gateway's connect timeout is 500 ms in the tests: well before this gives up.
    const received = await rawExchange(gateway.url, VALID_HANDSHAKE, 5000);
    assert.match(received, /^HTTP\/1\.1 400 /, 'what the node did send was passed on');
  });
});

describe('a chat node that drops one upgrade mid-handshake', () => {
  let chat: StubUpstream;
  let io: Server;
  let gateway: GatewayUnderTest;
  let drop = true;

  before(async () => {
    chat = await startStub(echo('chat'));
    chat.server.prependListener('upgrade', (_request, socket) => {
      // Accepted, read, then cut: a reset, not a refused connection.
      if (drop) socket.destroy();
    });
    io = new Server(chat.server, { path: '/socket.io/' });
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: chat.url } });
  });

  after(async () => {
    await gateway.close();
    io.close();
    await chat.close();
  });

  it('answers that upgrade 502 but keeps the node: one reset is no refusal', async () => {
    const dropped = await rawUpgrade(`${gateway.url}${SOCKET}`);
    assertProblem(dropped, 502, 'bad_gateway');
    drop = false;
    const next = await rawUpgrade(`${gateway.url}${SOCKET}`);
    assert.equal(next.status, 101, 'the node still takes upgrades (its breaker counts the failure)');
  });
});

describe('a chat node that refuses an upgrade with hop-by-hop headers of its own', () => {
  let chat: StubUpstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    chat = await startStub(echo('chat'));
    chat.server.on('upgrade', (_request, socket) => {
      socket.end(
        'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Node-Secret\r\n' +
          'X-Node-Secret: 10.0.0.7\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '5\r\nnope!\r\n0\r\n\r\n',
      );
    });
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: chat.url } });
  });

  after(async () => {
    await gateway.close();
    await chat.close();
  });

  it('passes the refusal on without them, framed by the close of the connection', async () => {
    const received = await rawExchange(gateway.url, VALID_HANDSHAKE, 5000);
    const end = received.indexOf('\r\n\r\n');
    const head = received.slice(0, end).toLowerCase();
    assert.match(head, /^http\/1\.1 403 /);
    assert.match(head, /\r\ncontent-type: text\/plain/);
    assert.match(head, /\r\nx-request-id: /);
    assert.match(head, /\r\nconnection: close/);
    for (const name of ['x-node-secret', 'keep-alive', 'transfer-encoding', 'connection: keep-alive']) {
      assert.ok(!head.includes(`\r\n${name}`), `${name} is not passed on:\n${head}`);
    }
    assert.equal(received.slice(end + 4), 'nope!', 'the body as the node meant it, de-chunked');
  });
});
