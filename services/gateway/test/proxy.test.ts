import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { rawRequest } from './support/raw-request.ts';
import { echo, identityServing, type StubUpstream, startStub } from './support/stub-upstream.ts';
import { createSigner, type TestSigner } from './support/tokens.ts';

describe('gateway proxying in distributed mode', () => {
  let signer: TestSigner;
  let identity: StubUpstream;
  let chatA: StubUpstream;
  let chatB: StubUpstream;
  let gateway: GatewayUnderTest;
  let token: string;

  before(async () => {
    signer = await createSigner();
    identity = await startStub(identityServing(signer));
    chatA = await startStub(echo('chat-a'));
    chatB = await startStub(echo('chat-b'));
    gateway = await startGateway({
      env: {
        PARLEY_UPSTREAM_IDENTITY: identity.url,
        PARLEY_UPSTREAM_CHAT: `${chatA.url},${chatB.url}`,
        PARLEY_BODY_LIMIT: '2048',
        PARLEY_UPLOAD_MAX_BYTES: '4096',
      },
    });
    token = await signer.sign({ sub: 'usr_alice' });
  });

  after(async () => {
    await gateway.close();
    await Promise.all([identity.close(), chatA.close(), chatB.close()]);
  });

  const auth = () => ({ authorization: `Bearer ${token}` });

  it('sends each prefix to its service, path and query intact, and balances over the nodes', async () => {
    const me = await fetch(`${gateway.url}/api/v1/auth/me?x=1`, { headers: auth() });
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), {
      node: 'identity',
      method: 'GET',
      url: '/api/v1/auth/me?x=1',
      body: '',
    });

    const nodes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${gateway.url}/api/v1/conversations/cnv_1/messages`, { headers: auth() });
      nodes.add(((await response.json()) as { node: string }).node);
    }
    assert.deepEqual([...nodes].sort(), ['chat-a', 'chat-b']);
  });

  it('forwards the body, request id and trace context, names the client, and strips hop-by-hop headers', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await rawRequest(`${gateway.url}/api/v1/conversations`, {
      method: 'POST',
      headers: {
        ...auth(),
        'content-type': 'application/json',
        'x-request-id': 'req-123',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        'x-forwarded-for': '6.6.6.6',
        'x-real-ip': '6.6.6.6',
        connection: 'keep-alive, x-hop',
        'keep-alive': 'timeout=5',
        'x-hop': 'for this connection only',
        'x-custom': 'kept',
      },
      body: JSON.stringify({ type: 'group', title: 'hi' }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-request-id'], 'req-123');
    const echoed = String(response.headers.traceparent);
    assert.match(echoed, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    assert.notEqual(echoed.split('-')[2], '00f067aa0ba902b7', 'the gateway is a hop of its own');

    const seen = [...chatA.traffic(), ...chatB.traffic()].find(
      (request) => request.headers['x-request-id'] === 'req-123',
    );
    assert.ok(seen, 'the upstream got the request');
    assert.equal(seen.body, JSON.stringify({ type: 'group', title: 'hi' }));
    assert.equal(seen.headers.traceparent, echoed);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'a spoofed X-Forwarded-For is replaced');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-real-ip'], undefined, 'another address header a client could forge');
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers['keep-alive'], undefined);
    assert.equal(seen.headers['x-hop'], undefined, 'named in Connection: hop-by-hop');
    assert.equal(seen.headers.authorization, `Bearer ${token}`, 'the service verifies the token again');
  });

  it('passes tracestate on with a continued trace only: a restarted trace drops it (W3C Trace Context)', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const cases = [
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, continued: true },
      { traceparent: '00-zzz', continued: false },
      { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, continued: false },
      { traceparent: `ff-${traceId}-00f067aa0ba902b7-01`, continued: false },
    ];
    for (const [index, { traceparent, continued }] of cases.entries()) {
      const requestId = `trace-state-${index}`;
      const response = await rawRequest(`${gateway.url}/api/v1/conversations`, {
        headers: { ...auth(), 'x-request-id': requestId, traceparent, tracestate: 'vendor=opaque' },
      });
      assert.equal(response.status, 200);
      const seen = [...chatA.traffic(), ...chatB.traffic()].find(
        (request) => request.headers['x-request-id'] === requestId,
      );
      assert.ok(seen, traceparent);
      assert.equal(seen.headers.traceparent, response.headers.traceparent, traceparent);
      assert.equal(seen.headers.tracestate, continued ? 'vendor=opaque' : undefined, traceparent);
    }
  });

  it('starts a trace when the client sent none, and gives every response a request id', async () => {
    const response = await fetch(`${gateway.url}/api/v1/auth/login`, { method: 'POST', body: '{}' });
    assert.match(response.headers.get('traceparent') ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('streams a response through as it is produced (server-sent events)', async () => {
    let finish: () => void = () => {};
    chatA.handle = chatB.handle = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.write('data: first\n\n');
      finish = () => response.end('data: [DONE]\n\n');
    };
    try {
      const response = await fetch(`${gateway.url}/api/v1/search/stream`, { headers: auth() });
      assert.equal(response.headers.get('content-type'), 'text/event-stream');
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      assert.equal(
        new TextDecoder().decode(first.value),
        'data: first\n\n',
        'arrives before the upstream finished',
      );
      finish();
      let rest = '';
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
        rest += new TextDecoder().decode(chunk.value);
      assert.equal(rest, 'data: [DONE]\n\n');
    } finally {
      chatA.handle = echo('chat-a');
      chatB.handle = echo('chat-b');
    }
  });

  it('passes a large answer through intact, with backpressure rather than buffering it whole', async () => {
    // 8 MiB of distinct bytes: past the size read whole, so it is streamed with the client's pace.
    const payload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    chatA.handle = chatB.handle = (_request, response) => {
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(payload.length),
      });
      response.end(payload);
    };
    try {
      const response = await fetch(`${gateway.url}/api/v1/uploads/export`, { headers: auth() });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-length'), String(payload.length));
      const received = Buffer.from(await response.arrayBuffer());
      assert.equal(received.length, payload.length);
      assert.ok(received.equals(payload), 'every byte arrives, in order');
    } finally {
      chatA.handle = echo('chat-a');
      chatB.handle = echo('chat-b');
    }
  });

  it('passes answers without a body through without one: 204, and HEAD with the length it announces', async () => {
    identity.handle = (request, response) => {
      if (request.url === '/.well-known/jwks.json') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(signer.jwks));
        return;
      }
      if (request.method === 'DELETE') {
        response.writeHead(204, { 'x-deleted': 'yes' }).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '17' });
      response.end(request.method === 'HEAD' ? undefined : '{"present":true}\n');
    };
    try {
      const deleted = await rawRequest(`${gateway.url}/api/v1/users/usr_x`, {
        method: 'DELETE',
        headers: auth(),
      });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.headers['x-deleted'], 'yes');
      assert.equal(deleted.body, '');
      const head = await rawRequest(`${gateway.url}/api/v1/users/usr_x`, { method: 'HEAD', headers: auth() });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '17');
      assert.equal(head.body, '');
      const get = await fetch(`${gateway.url}/api/v1/users/usr_x`, { headers: auth() });
      assert.deepEqual(await get.json(), { present: true });
    } finally {
      identity.handle = echo('identity');
    }
  });

  it('passes upstream statuses and headers back, hop-by-hop ones removed', async () => {
    identity.handle = (_request, response) => {
      response.writeHead(409, {
        'content-type': 'application/problem+json',
        'set-cookie': ['a=1', 'b=2'],
        connection: 'close, x-private',
        'x-private': 'secret',
      });
      response.end(JSON.stringify({ code: 'conflict' }));
    };
    try {
      const response = await fetch(`${gateway.url}/api/v1/auth/register`, { method: 'POST', body: '{}' });
      assert.equal(response.status, 409);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
      assert.equal(response.headers.get('x-private'), null);
      assert.deepEqual(await response.json(), { code: 'conflict' });
    } finally {
      identity.handle = echo('identity');
    }
  });

  it("passes an upstream's own security headers on, none of the edge's left out or doubled", async () => {
    identity.handle = (_request, response) => {
      response.setHeader('x-frame-options', 'SAMEORIGIN');
      response.setHeader('content-security-policy', "default-src 'none'");
      response.setHeader('referrer-policy', ['no-referrer', 'strict-origin']);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    };
    try {
      const response = await rawRequest(`${gateway.url}/api/v1/auth/me`, { headers: auth() });
      assert.equal(response.status, 200);
      const lines = (name: string) =>
        response.rawHeaders.flatMap((value, index) =>
          index % 2 === 1 && response.rawHeaders[index - 1]?.toLowerCase() === name ? [value] : [],
        );
      // The same as the edge's own: once.
      assert.deepEqual(lines('x-frame-options'), ['SAMEORIGIN']);
      // The upstream's differs from the edge's: the upstream's alone, as for any header it sets.
      assert.deepEqual(lines('content-security-policy'), ["default-src 'none'"]);
      // One line like the edge's and one not: both, in the upstream's order.
      assert.deepEqual(lines('referrer-policy'), ['no-referrer', 'strict-origin']);
      // Untouched by the upstream: the edge's, once.
      assert.deepEqual(lines('x-content-type-options'), ['nosniff']);
      assert.deepEqual(lines('x-xss-protection'), ['0']);
    } finally {
      identity.handle = echo('identity');
    }
  });

  it('refuses a buffered body over the limit with 413 before any upstream sees it, and streams uploads', async () => {
    const before = chatA.traffic().length + chatB.traffic().length;
    const big = await fetch(`${gateway.url}/api/v1/conversations`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'x'.repeat(4000) }),
    });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { code: string }).code, 'payload_too_large');
    assert.equal(chatA.traffic().length + chatB.traffic().length, before);

    const upload = await fetch(`${gateway.url}/api/v1/uploads`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/octet-stream' },
      body: 'y'.repeat(3000),
    });
    assert.equal(upload.status, 200, 'uploads may exceed the JSON limit');
    assert.equal(((await upload.json()) as { body: string }).body.length, 3000);

    const tooBig = await fetch(`${gateway.url}/api/v1/uploads`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/octet-stream' },
      body: 'z'.repeat(4096 + 1024 * 1024 + 1),
    });
    assert.equal(tooBig.status, 413);
  });

  it('leaves unknown paths and the internal API unrouted (404 problem)', async () => {
    for (const path of ['/api/v1/nothing', '/internal/v1/chat/conversations/x']) {
      const response = await fetch(`${gateway.url}${path}`, { headers: auth() });
      assert.equal(response.status, 404);
      assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    }
  });

  it('serves a JSON landing at / naming the proxied services', async () => {
    const landing = (await (await fetch(`${gateway.url}/`)).json()) as { services: string[] };
    assert.deepEqual(landing.services.sort(), ['chat', 'identity']);
  });
});
