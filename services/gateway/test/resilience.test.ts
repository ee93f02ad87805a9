import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, afterEach, describe, it } from 'node:test';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { echo, type StubHandler, type StubUpstream, startStub } from './support/stub-upstream.ts';

interface Problem {
  status: number;
  code: string;
}

/** Identity's routes need no token on login/register, which keeps these tests about the upstreams alone. */
const LOGIN = '/api/v1/auth/login';

/** Fails the first `times` requests by dropping the connection after the body arrived, then echoes. */
function dropFirst(times: number, name: string): StubHandler & { dropped: number } {
  const handler = ((request, response: ServerResponse, body) => {
    if (handler.dropped < times) {
      handler.dropped++;
      response.socket?.destroy();
      return;
    }
    return echo(name)(request, response, body);
  }) as StubHandler & { dropped: number };
  handler.dropped = 0;
  return handler;
}

describe('gateway resilience against failing upstreams', () => {
  const stubs: StubUpstream[] = [];
  let gateway: GatewayUnderTest | undefined;

  async function cluster(nodes: StubUpstream[], env: Record<string, string> = {}) {
    const urls = nodes.map((node) => node.url);
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_IDENTITY: urls.join(','), ...env } });
    return gateway;
  }

  async function stub(handler: StubHandler) {
    const started = await startStub(handler);
    stubs.push(started);
    return started;
  }

  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
    await Promise.all(stubs.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await gateway?.close();
  });

  it('cancels the upstream request when the client hangs up before the answer', async () => {
    let upstreamClosed = false;
    const slow = await stub((_request, response) => {
      response.on('close', () => {
        upstreamClosed = !response.writableFinished;
      });
      setTimeout(() => {
        if (!response.destroyed) response.end('{}');
      }, 3_000).unref();
    });
    const g = await cluster([slow]);
    const hangUp = new AbortController();
    const pending = fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}', signal: hangUp.signal });
    await new Promise((resolve) => setTimeout(resolve, 200));
    hangUp.abort();
    await assert.rejects(pending);
    const deadline = performance.now() + 2_000;
    while (!upstreamClosed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(upstreamClosed, 'the gateway kept the upstream request open after the client left');
  });

  it('cancels the upstream stream when the client hangs up in the middle of the answer', async () => {
    let upstreamClosed = false;
    const streaming = await stub((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const ticker = setInterval(() => response.write('data: tick\n\n'), 20);
      response.on('close', () => {
        clearInterval(ticker);
        upstreamClosed = !response.writableFinished;
      });
    });
    const g = await cluster([streaming]);
    const hangUp = new AbortController();
    const response = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}', signal: hangUp.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /data: tick/);
    hangUp.abort();
    const deadline = performance.now() + 2_000;
    while (!upstreamClosed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(upstreamClosed, 'the gateway kept streaming from the upstream after the client left');
  });

  it('answers 502 when no node can be reached, then 503 while none is healthy — never a hang', async () => {
    const a = await stub(echo('a'));
    const b = await stub(echo('b'));
    const g = await cluster([a, b]);
    await g.gateway.health?.checkAll();
    await Promise.all([a.close(), b.close()]);
    const started = performance.now();
    const first = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' });
    assert.equal(first.status, 502);
    const problem = (await first.json()) as Problem;
    assert.equal(problem.code, 'bad_gateway');
    assert.equal(first.headers.get('content-type'), 'application/problem+json; charset=utf-8');

    const second = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' });
    assert.equal(second.status, 503);
    assert.equal(((await second.json()) as Problem).code, 'unavailable');
    assert.equal(second.headers.get('retry-after'), '1');
    assert.ok(performance.now() - started < 2000, 'answered at once');

    const ready = await fetch(`${g.url}/ready`);
    assert.equal(ready.status, 503);
    const report = (await ready.json()) as {
      checks: Record<
        string,
        {
          ok: boolean;
          error: string;
          detail: { healthy: number; total: number; nodes: Array<{ healthy: boolean }> };
        }
      >;
    };
    const upstream = report.checks['upstream:identity'];
    assert.equal(upstream?.ok, false);
    assert.equal(upstream?.error, 'no identity node is available (0 of 2)', 'told to anyone');
    assert.equal(upstream?.detail.total, 2);
    assert.equal(upstream?.detail.healthy, 0);
  });

  it('sends even a POST to another node when the connection was refused (nothing was sent)', async () => {
    const alive = await stub(echo('alive'));
    const doomed = await stub(echo('doomed'));
    const g = await cluster([doomed, alive]);
    await g.gateway.health?.checkAll();
    await doomed.close();
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: `{"n":${i}}` });
      assert.equal(response.status, 200);
    }
    assert.deepEqual(
      alive.traffic().map((request) => request.body),
      ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}'],
      'each request exactly once',
    );
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    assert.match(
      metrics,
      /gateway_upstream_errors_total\{service="identity",upstream="0",kind="connect"\} 1/,
      'the doomed node, first in the list',
    );
  });

  it('retries an idempotent request on a broken connection, but never a POST whose body was sent', async () => {
    const handler = dropFirst(1, 'node');
    const a = await stub(handler);
    const b = await stub(handler);
    const g = await cluster([a, b]);

    const get = await fetch(`${g.url}/api/v1/users/usr_1`, { headers: { authorization: 'Bearer prly_x' } });
    assert.equal(get.status, 200, 'the GET went to the other node');
    assert.equal(a.traffic().length + b.traffic().length, 2);

    handler.dropped = 0;
    const post = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{"once":true}' });
    assert.equal(post.status, 502);
    assert.equal(((await post.json()) as Problem).code, 'bad_gateway');
    const posts = [...a.traffic(), ...b.traffic()].filter((request) => request.method === 'POST');
    assert.equal(posts.length, 1, 'the POST reached one node once, and was not repeated');
  });

  it('answers 504 when a node accepts but does not answer in time', async () => {
    const silent = await stub(() => {});
    const g = await cluster([silent], { PARLEY_GATEWAY_HEADERS_TIMEOUT_MS: '300' });
    const started = performance.now();
    const response = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' });
    assert.equal(response.status, 504);
    assert.equal(((await response.json()) as Problem).code, 'gateway_timeout');
    assert.ok(performance.now() - started < 1500);
  });

  it('opens a node’s circuit after repeated failures, then closes it after a good trial', async () => {
    let failing = true;
    const flaky = await stub((request, response, body) => {
      if (failing) response.writeHead(503, { 'content-type': 'application/json' }).end('{}');
      else echo('flaky')(request, response, body);
    });
    const steady = await stub(echo('steady'));
    const g = await cluster([flaky, steady]);
    for (let i = 0; i < 12; i++)
      await (await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' })).text();
    assert.equal(flaky.traffic().length, 3, 'three failures (the threshold), then no more traffic');
    const node = g.gateway.groups.get('identity')?.nodes.find((n) => n.origin === flaky.url);
    assert.equal(node?.breaker.state, 'open');

    const degraded = (await (await fetch(`${g.url}/ready`)).json()) as { ready: boolean; degraded?: boolean };
    assert.equal(degraded.ready, true);
    assert.equal(degraded.degraded, true);

    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 350));
    for (let i = 0; i < 4; i++)
      await (await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' })).text();
    assert.equal(node?.breaker.state, 'closed');
    assert.ok(flaky.traffic().length >= 5, 'back in rotation');
  });

  it('answers 503 at once when every connection to the node is held, and keeps checking its health', async () => {
    const held: ServerResponse[] = [];
    const busy = await stub((request, response, body) => {
      if (body.includes('hold')) held.push(response);
      else echo('busy')(request, response, body);
    });
    gateway = await startGateway({
      env: { PARLEY_UPSTREAM_IDENTITY: busy.url },
      connectionsPerUpstream: 4,
    });
    const g = gateway;
    const holders = Array.from({ length: 4 }, () => {
      const controller = new AbortController();
      const done = fetch(`${g.url}${LOGIN}`, {
        method: 'POST',
        body: '{"hold":true}',
        signal: controller.signal,
      })
        .then((response) => response.text())
        .catch(() => undefined);
      return { controller, done };
    });
    const deadline = Date.now() + 5000;
    while (held.length < 4) {
      assert.ok(Date.now() < deadline, 'the four requests reach the node');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const started = performance.now();
    const refused = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as Problem).code, 'unavailable');
    assert.ok(performance.now() - started < 1000, 'answered at once, not queued');
    await g.gateway.health?.checkAll();
    const node = g.gateway.groups.get('identity')?.nodes[0];
    assert.equal(node?.isHealthy, true, 'the health check has its own connection');
    for (const response of held) response.end('{}');
    await Promise.all(holders.map((holder) => holder.done));
    assert.equal((await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' })).status, 200);
  });

  it('holds an application’s own 5xx problem against nothing: the node stays in rotation', async () => {
    const answering = await stub((_request, response) => {
      response
        .writeHead(503, { 'content-type': 'application/problem+json' })
        .end('{"type":"about:blank","status":503,"code":"provider_unavailable"}');
    });
    const g = await cluster([answering]);
    for (let i = 0; i < 8; i++) {
      const response = await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' });
      assert.equal(response.status, 503);
      assert.equal(
        ((await response.json()) as { code: string }).code,
        'provider_unavailable',
        'the node’s own answer, passed on',
      );
    }
    assert.equal(answering.traffic().length, 8, 'every request reached the node');
    const node = g.gateway.groups.get('identity')?.nodes[0];
    assert.equal(node?.breaker.state, 'closed');
  });

  it('takes a node out while its /ready fails and reports the breakdown; back when it recovers', async () => {
    const a = await stub(echo('a'));
    const b = await stub(echo('b'));
    const g = await cluster([a, b]);
    a.readyStatus = 503;
    await g.gateway.health?.checkAll();
    for (let i = 0; i < 4; i++) {
      const body = (await (await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' })).json()) as {
        node: string;
      };
      assert.equal(body.node, 'b');
    }
    const ready = await fetch(`${g.url}/ready`);
    assert.equal(ready.status, 200);
    const report = (await ready.json()) as {
      degraded: boolean;
      checks: Record<string, { detail: { nodes: Array<{ index: number; healthy: boolean }> } }>;
    };
    assert.equal(report.degraded, true);
    const nodes = report.checks['upstream:identity']?.detail.nodes ?? [];
    assert.deepEqual(
      nodes.map((node) => [node.index, node.healthy]),
      [
        [0, false],
        [1, true],
      ],
    );

    b.readyStatus = 503;
    await g.gateway.health?.checkAll();
    assert.equal((await fetch(`${g.url}/ready`)).status, 503);
    assert.equal((await fetch(`${g.url}${LOGIN}`, { method: 'POST', body: '{}' })).status, 503);

    a.readyStatus = 200;
    b.readyStatus = 200;
    await g.gateway.health?.checkAll();
    const back = (await (await fetch(`${g.url}/ready`)).json()) as { ready: boolean; degraded?: boolean };
    assert.deepEqual([back.ready, back.degraded], [true, undefined]);
  });

  it('checks health periodically on its own', async () => {
    const a = await stub(echo('a'));
    gateway = await startGateway({ env: { PARLEY_UPSTREAM_IDENTITY: a.url }, periodicHealth: true });
    a.readyStatus = 503;
    const deadline = Date.now() + 3000;
    while ((await fetch(`${gateway.url}/ready`)).status !== 503) {
      assert.ok(Date.now() < deadline, 'the periodic check noticed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
