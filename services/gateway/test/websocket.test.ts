import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { rawExchange, rawRequest, rawUpgrade } from './support/raw-request.ts';
import { echo, type StubUpstream, startStub } from './support/stub-upstream.ts';

interface ChatNode {
  stub: StubUpstream;
  io: Server;
  /** Dies like a killed process: every TCP connection cut, no goodbye. */
  kill(): Promise<void>;
}

interface WhoAmI {
  node: string;
  sid: string;
  /** What the node's handshake carried, as the gateway passed it on. */
  requestId: string | string[] | undefined;
  traceparent: string | string[] | undefined;
  forwarded: Forwarded;
}

/** Who the client is, as an upstream learns it from the gateway. */
interface Forwarded {
  for: string | string[] | undefined;
  proto: string | string[] | undefined;
  host: string | string[] | undefined;
}

function forwardedIn(headers: import('node:http').IncomingHttpHeaders): Forwarded {
  return {
    for: headers['x-forwarded-for'],
    proto: headers['x-forwarded-proto'],
    host: headers['x-forwarded-host'],
  };
}

/** A chat node stand-in: Socket.IO on a stub server, acknowledging `whoami` with its name. */
async function startChatNode(name: string, port = 0): Promise<ChatNode> {
  const stub = await startStub(echo(name), port);
  const server = new Server(stub.server, { path: '/socket.io/' });
  server.on('connection', (socket) => {
    socket.on('whoami', (ack: (answer: WhoAmI) => void) =>
      ack({
        node: name,
        sid: socket.id,
        requestId: socket.handshake.headers['x-request-id'],
        traceparent: socket.handshake.headers.traceparent,
        forwarded: forwardedIn(socket.handshake.headers),
      }),
    );
  });
  const connections = new Set<import('node:net').Socket>();
  stub.server.on('connection', (connection) => {
    connections.add(connection);
    connection.once('close', () => connections.delete(connection));
  });
  const kill = async () => {
    for (const connection of connections) connection.destroy();
    server.close();
    await stub.close().catch(() => undefined);
  };
  return { stub, io: server, kill };
}

async function stopChatNode(node: ChatNode): Promise<void> {
  node.io.disconnectSockets(true);
  await new Promise<void>((resolve) => node.io.close(() => resolve()));
  await node.stub.close().catch(() => undefined);
}

function connect(url: string, options: Parameters<typeof io>[1] = {}): Socket {
  return io(url, { reconnection: false, forceNew: true, timeout: 3000, ...options });
}

async function connected(socket: Socket): Promise<void> {
  if (socket.connected) return;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('Socket.IO through the gateway', () => {
  let a: ChatNode;
  let b: ChatNode;
  let gateway: GatewayUnderTest;
  const sockets: Socket[] = [];

  before(async () => {
    a = await startChatNode('a');
    b = await startChatNode('b');
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: `${a.stub.url},${b.stub.url}` } });
  });

  after(async () => {
    for (const socket of sockets) socket.disconnect();
    await gateway.close();
    await Promise.all([stopChatNode(a), stopChatNode(b)]);
  });

  it('proxies the websocket transport to any node, no stickiness needed, and counts open sockets', async () => {
    const nodes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const socket = connect(gateway.url, { transports: ['websocket'] });
      sockets.push(socket);
      await connected(socket);
      for (let round = 0; round < 3; round++) {
        const answer = (await socket.timeout(2000).emitWithAck('whoami')) as { node: string };
        nodes.add(answer.node);
      }
    }
    assert.deepEqual([...nodes].sort(), ['a', 'b']);
    assert.equal(await metric(gateway.url, 'gateway_open_websockets{service="chat"}'), 6);
    for (const socket of sockets.splice(0)) socket.disconnect();
    const deadline = Date.now() + 2000;
    while ((await metric(gateway.url, 'gateway_open_websockets{service="chat"}')) !== 0) {
      assert.ok(Date.now() < deadline, 'closed sockets are no longer counted');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('keeps each long-polling session on its node with the sticky cookie, and upgrades it there', async () => {
    for (const transports of [['polling'], ['polling', 'websocket']]) {
      for (let i = 0; i < 4; i++) {
        const socket = connect(gateway.url, { transports, withCredentials: true });
        sockets.push(socket);
        await connected(socket);
        const first = (await socket.timeout(2000).emitWithAck('whoami')) as { node: string; sid: string };
        for (let round = 0; round < 4; round++) {
          const again = (await socket.timeout(2000).emitWithAck('whoami')) as { node: string; sid: string };
          assert.deepEqual(again, first, 'the same session on the same node');
        }
      }
    }
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  it('(control) without the cookie, long-polling sessions land on the wrong node and break', async () => {
    let broken = 0;
    for (let i = 0; i < 4; i++) {
      const socket = connect(gateway.url, { transports: ['polling'], withCredentials: false });
      try {
        await connected(socket);
        for (let round = 0; round < 4; round++) await socket.timeout(500).emitWithAck('whoami');
      } catch {
        broken++;
      } finally {
        socket.disconnect();
      }
    }
    assert.ok(broken > 0, 'some sessions broke: stickiness is what holds them together');
  });

  it('sets the cookie on the polling handshake only: HttpOnly, scoped to the socket path', async () => {
    const handshake = await rawRequest(`${gateway.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(handshake.status, 200);
    const cookie = (handshake.headers['set-cookie'] ?? []).find((c) => c.startsWith('parley_upstream='));
    assert.match(cookie ?? '', /^parley_upstream=[\w-]{12}; Path=\/socket\.io\/; HttpOnly; SameSite=Lax$/);
    const api = await rawRequest(`${gateway.url}/api/v1/conversations`, {
      headers: { authorization: 'Bearer prly_x' },
    });
    assert.equal(api.headers['set-cookie'], undefined);
  });

  it('refuses upgrades elsewhere than the socket path with a problem', async () => {
    const response = await rawRequest(`${gateway.url}/api/v1/conversations`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    assert.equal(response.status, 404);
    assert.equal(response.headers['content-type'], 'application/problem+json');
  });

  it('continues the client’s x-request-id on the upgrade by the same rule as HTTP', async () => {
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const candidates = [
      { id: 'client-7.req:42@app_x', kept: true },
      { id: 'r'.repeat(128), kept: true },
      { id: 'r'.repeat(129), kept: false },
      { id: 'two words', kept: false },
      { id: 'semi;colon', kept: false },
    ];
    for (const { id, kept } of candidates) {
      const socket = connect(gateway.url, {
        transports: ['websocket'],
        extraHeaders: { 'x-request-id': id },
      });
      sockets.push(socket);
      await connected(socket);
      const overSocket = ((await socket.timeout(2000).emitWithAck('whoami')) as WhoAmI).requestId;
      socket.disconnect();

      const overHttp = await fetch(`${gateway.url}/api/v1/conversations`, {
        headers: { authorization: 'Bearer prly_k', 'x-request-id': id },
      });
      assert.equal(overHttp.status, 200);
      const { node } = (await overHttp.json()) as { node: string };
      const httpNode = node === 'a' ? a : b;
      const seenOverHttp = httpNode.stub.traffic().at(-1)?.headers['x-request-id'];

      if (kept) {
        assert.equal(overSocket, id, 'the node’s handshake carries the client’s id');
        assert.equal(seenOverHttp, id);
      } else {
        assert.match(String(overSocket), UUID, `${id}: replaced, as HTTP replaces it`);
        assert.match(String(seenOverHttp), UUID);
      }
    }
  });

  it('answers the upgrade with the request id and the trace it passed on, as HTTP does', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const upgrade = await rawUpgrade(`${gateway.url}/socket.io/?EIO=4&transport=websocket`, {
      'x-request-id': 'client-upgrade-1',
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    assert.equal(upgrade.status, 101);
    assert.equal(upgrade.headers['x-request-id'], 'client-upgrade-1');
    assert.match(String(upgrade.headers.traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    assert.notEqual(
      upgrade.headers.traceparent,
      `00-${traceId}-00f067aa0ba902b7-01`,
      'the gateway’s own span',
    );

    const socket = connect(gateway.url, {
      transports: ['websocket'],
      extraHeaders: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    sockets.push(socket);
    await connected(socket);
    const seen = (await socket.timeout(2000).emitWithAck('whoami')) as WhoAmI;
    socket.disconnect();
    assert.match(String(seen.traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const refused = await rawUpgrade(`${gateway.url}/api/v1/conversations`, { 'x-request-id': 'client-404' });
    assert.equal(refused.status, 404);
    assert.equal(refused.headers['x-request-id'], 'client-404');
    assert.match(String(refused.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('holds nothing against a node when clients abort their upgrades', async () => {
    const { connect: tcpConnect } = await import('node:net');
    const { port } = new URL(gateway.url);
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = tcpConnect(Number(port), '127.0.0.1', () => {
          socket.write(
            'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n' +
              'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
          );
          // Gone just after the gateway asked a node for the upgrade.
          setTimeout(() => {
            socket.resetAndDestroy();
            resolve();
          }, 2);
        });
        socket.on('error', () => resolve());
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ready = (await (await fetch(`${gateway.url}/ready`)).json()) as {
      checks: Record<string, { detail: { healthy: number; total: number } }>;
    };
    const chat = ready.checks['upstream:chat']?.detail;
    assert.ok(chat);
    assert.equal(chat.healthy, chat.total, JSON.stringify(chat));
    assert.equal(await metric(gateway.url, 'gateway_upstream_errors_total{service="chat"'), 0);
  });

  it('moves a client whose node died to the other node when it reconnects', async () => {
    const socket = connect(gateway.url, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 50,
    });
    sockets.push(socket);
    await connected(socket);
    const first = (await socket.timeout(2000).emitWithAck('whoami')) as { node: string };
    const victim = first.node === 'a' ? a : b;
    const reason = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const port = victim.stub.port;
    await victim.kill();
    assert.equal(await reason, 'transport close');
    await new Promise<void>((resolve) => socket.io.once('reconnect', () => resolve()));
    const second = (await socket.timeout(2000).emitWithAck('whoami')) as { node: string };
    assert.notEqual(second.node, first.node);
    socket.disconnect();
    // Bring the node back on the same port for whatever runs after.
    const revived = await startChatNode(first.node, port);
    if (victim === a) a = revived;
    else b = revived;
  });
});

describe('who the client is, on the upgrade as on HTTP', () => {
  const PROXIED = {
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'chat.example.com',
  };
  let node: ChatNode;

  before(async () => {
    node = await startChatNode('n');
  });

  after(async () => {
    await stopChatNode(node);
  });

  async function overSocket(gateway: GatewayUnderTest, headers: Record<string, string>): Promise<Forwarded> {
    const socket = connect(gateway.url, { transports: ['websocket'], extraHeaders: headers });
    try {
      await connected(socket);
      return ((await socket.timeout(2000).emitWithAck('whoami')) as WhoAmI).forwarded;
    } finally {
      socket.disconnect();
    }
  }

  async function overHttp(gateway: GatewayUnderTest, headers: Record<string, string>): Promise<Forwarded> {
    const response = await rawRequest(`${gateway.url}/api/v1/conversations`, {
      headers: { ...headers, authorization: 'Bearer prly_k' },
    });
    assert.equal(response.status, 200, response.body);
    const seen = node.stub.traffic().at(-1);
    assert.ok(seen);
    return forwardedIn(seen.headers);
  }

  async function withGateway(env: Record<string, string>, use: (gateway: GatewayUnderTest) => Promise<void>) {
    const gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: node.stub.url, ...env } });
    try {
      await use(gateway);
    } finally {
      await gateway.close();
    }
  }

  for (const trust of ['127.0.0.1', '127.0.0.0/8, 10.0.0.0/8', 'true']) {
    it(`believes a trusted proxy's X-Forwarded-* (PARLEY_TRUST_PROXY=${trust})`, async () => {
      await withGateway({ PARLEY_TRUST_PROXY: trust }, async (gateway) => {
        const expected = { for: '203.0.113.7', proto: 'https', host: 'chat.example.com' };
        assert.deepEqual(await overSocket(gateway, PROXIED), expected);
        assert.deepEqual(await overHttp(gateway, PROXIED), expected);
      });
    });
  }

  it('walks X-Forwarded-For only as far as the trusted proxies go, as HTTP does', async () => {
    await withGateway({ PARLEY_TRUST_PROXY: '127.0.0.1' }, async (gateway) => {
      // The left entry is the client's own claim, passed on by the untrusted 203.0.113.7.
      const chain = { ...PROXIED, 'x-forwarded-for': '198.51.100.9, 203.0.113.7' };
      const socket = await overSocket(gateway, chain);
      assert.equal(socket.for, '203.0.113.7');
      assert.deepEqual(socket, await overHttp(gateway, chain));
    });
  });

  for (const trust of [undefined, '10.0.0.0/8']) {
    it(`ignores X-Forwarded-* from a peer that is not trusted (PARLEY_TRUST_PROXY=${trust ?? 'unset'})`, async () => {
      await withGateway(trust === undefined ? {} : { PARLEY_TRUST_PROXY: trust }, async (gateway) => {
        const expected = { for: '127.0.0.1', proto: 'http', host: new URL(gateway.url).host };
        assert.deepEqual(await overSocket(gateway, PROXIED), expected, 'the socket’s own address');
        assert.deepEqual(await overHttp(gateway, PROXIED), expected);
      });
    });
  }
});

describe('the sticky cookie', () => {
  it('names a node alike on every gateway replica sharing the internal token, without revealing its address', async () => {
    const node = await startChatNode('a');
    const env = {
      PARLEY_UPSTREAM_CHAT: node.stub.url,
      PARLEY_INTERNAL_TOKEN: 'sticky-test-internal-token-0123456789abcdef',
    };
    const first = await startGateway({ env });
    const second = await startGateway({ env });
    const other = await startGateway({
      env: { ...env, PARLEY_INTERNAL_TOKEN: 'another-deployment-token-0123456789abcdef' },
    });
    try {
      const nameFrom = async (gateway: GatewayUnderTest) => {
        const handshake = await rawRequest(`${gateway.url}/socket.io/?EIO=4&transport=polling`);
        const cookie = (handshake.headers['set-cookie'] ?? []).find((c) => c.startsWith('parley_upstream='));
        return /^parley_upstream=([\w-]+);/.exec(cookie ?? '')?.[1];
      };
      const name = await nameFrom(first);
      assert.match(name ?? '', /^[\w-]{12}$/);
      assert.equal(await nameFrom(second), name, 'a session opened on one replica continues on another');
      const unkeyed = createHash('sha256').update(new URL(node.stub.url).origin).digest('base64url');
      assert.notEqual(name, unkeyed.slice(0, 12), 'hashing a guessed address must not give the name away');
      assert.notEqual(await nameFrom(other), name);
    } finally {
      await Promise.all([first.close(), second.close(), other.close()]);
      await stopChatNode(node);
    }
  });
});

describe('Socket.IO through the gateway with no chat node up', () => {
  it('answers the upgrade with 503 unavailable', async () => {
    const node = await startChatNode('x');
    const gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: node.stub.url } });
    try {
      node.stub.readyStatus = 503;
      await gateway.gateway.health?.checkAll();
      const socket = connect(gateway.url, { transports: ['websocket'] });
      const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
      assert.match(error.message, /websocket error/);
      socket.disconnect();
      const response = await rawRequest(`${gateway.url}/socket.io/?EIO=4&transport=websocket`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      assert.equal(response.status, 503);
      assert.equal(JSON.parse(response.body).code, 'unavailable');
    } finally {
      await gateway.close();
      await stopChatNode(node);
    }
  });
});

/** What curl --http2 and Java's HttpClient send on a plain-http URL: an offer to switch to HTTP/2. */
const H2C_OFFER = {
  connection: 'Upgrade, HTTP2-Settings',
  upgrade: 'h2c',
  'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA',
};

describe('upgrade offers other than WebSocket, in front of chat nodes', () => {
  let node: ChatNode;
  let gateway: GatewayUnderTest;

  before(async () => {
    node = await startChatNode('n');
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_CHAT: node.stub.url } });
  });

  after(async () => {
    await gateway.close();
    await stopChatNode(node);
  });

  it('serves an h2c offer as plain HTTP/1.1: answered by the route, the offer passed to no node', async () => {
    const response = await rawRequest(`${gateway.url}/api/v1/conversations/cnv_1/messages`, {
      method: 'POST',
      headers: {
        ...H2C_OFFER,
        authorization: 'Bearer prly_k',
        'content-type': 'application/json',
        'x-request-id': 'h2c-offer-1',
      },
      body: '{"body":"hello"}',
    });
    assert.equal(response.status, 200, response.body);
    assert.equal(response.headers['x-request-id'], 'h2c-offer-1');
    assert.deepEqual(JSON.parse(response.body), {
      node: 'n',
      method: 'POST',
      url: '/api/v1/conversations/cnv_1/messages',
      body: '{"body":"hello"}',
    });
    const seen = node.stub.traffic().at(-1)?.headers ?? {};
    assert.equal(seen.upgrade, undefined);
    assert.equal(seen['http2-settings'], undefined);
    assert.doesNotMatch(String(seen.connection), /upgrade/i);
    assert.equal(seen['x-request-id'], 'h2c-offer-1');
  });

  it('answers pipelined requests carrying offers, in order, and keeps the connection', async () => {
    const offer =
      'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA';
    const auth = 'Authorization: Bearer prly_k';
    const received = await rawExchange(
      gateway.url,
      `GET /api/v1/conversations?n=1 HTTP/1.1\r\nHost: x\r\n${auth}\r\n${offer}\r\n\r\n` +
        `POST /api/v1/conversations?n=2 HTTP/1.1\r\nHost: x\r\n${auth}\r\n${offer}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{"n":"2"}' +
        `GET /api/v1/conversations?n=3 HTTP/1.1\r\nHost: x\r\n${auth}\r\nConnection: close\r\n\r\n`,
    );
    assert.deepEqual(
      [...received.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((match) => match[1]),
      ['200', '200', '200'],
    );
    assert.deepEqual(
      [...received.matchAll(/n=(\d)/g)].map((match) => match[1]),
      ['1', '2', '3'],
    );
    assert.match(received, /"body":"\{\\"n\\":\\"2\\"\}"/, 'the offered request’s body arrived whole');
  });

  it('serves an offer at the socket path as the polling request it is, and refuses nothing that exists', async () => {
    const polling = await rawRequest(`${gateway.url}/socket.io/?EIO=4&transport=polling`, {
      headers: H2C_OFFER,
    });
    assert.equal(polling.status, 200);
    assert.match(polling.body, /^0\{"sid":/, 'Engine.IO’s open packet, from the node');

    const missing = await rawRequest(`${gateway.url}/nothing-here`, { headers: H2C_OFFER });
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body).code, 'not_found');
    assert.equal(missing.headers['content-type'], 'application/problem+json; charset=utf-8');
  });

  it('still upgrades WebSocket offers, and to WebSocket alone when more is offered', async () => {
    const socket = connect(gateway.url, { transports: ['websocket'] });
    try {
      await connected(socket);
      assert.equal(((await socket.timeout(2000).emitWithAck('whoami')) as WhoAmI).node, 'n');
    } finally {
      socket.disconnect();
    }
    const seen: Array<string | undefined> = [];
    const record = (request: import('node:http').IncomingMessage) => seen.push(request.headers.upgrade);
    node.stub.server.on('upgrade', record);
    try {
      const upgrade = await rawUpgrade(`${gateway.url}/socket.io/?EIO=4&transport=websocket`, {
        upgrade: 'h2c, websocket',
      });
      assert.equal(upgrade.status, 101);
      assert.deepEqual(seen, ['websocket'], 'the node is offered nothing but WebSocket');
    } finally {
      node.stub.server.off('upgrade', record);
    }
  });
});

describe('upgrade offers other than WebSocket, with chat in the process', () => {
  let gateway: GatewayUnderTest;
  let io: Server;

  before(async () => {
    gateway = await startGateway({
      services: [
        {
          name: 'chat',
          // What chat does in one process: Socket.IO on the same HTTP server as the routes.
          plugin: async (app) => {
            io = new Server(app.server, { path: '/socket.io/' });
            io.on('connection', (socket) =>
              socket.on('ping', (ack: (answer: string) => void) => ack('pong')),
            );
            app.get('/api/v1/conversations', async () => ({ items: [], nextCursor: null }));
          },
        },
      ],
    });
  });

  after(async () => {
    io.close();
    await gateway.close();
  });

  it('serves an h2c offer as plain HTTP/1.1 instead of closing the connection unanswered', async () => {
    const response = await rawRequest(`${gateway.url}/api/v1/conversations`, { headers: H2C_OFFER });
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { items: [], nextCursor: null });
  });

  it('still hands WebSocket offers to Socket.IO', async () => {
    const socket = connect(gateway.url, { transports: ['websocket'] });
    try {
      await connected(socket);
      assert.equal(await socket.timeout(2000).emitWithAck('ping'), 'pong');
    } finally {
      socket.disconnect();
    }
  });
});
