import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type GatewayUnderTest, startGateway } from './support/gateway-under-test.ts';
import { deadPort, echo, type StubUpstream, startStub } from './support/stub-upstream.ts';

interface OpenApi {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> };
  tags?: Array<{ name: string }>;
  'x-parley-services': Record<string, string>;
}

describe('gateway ops in distributed mode', () => {
  let identity: StubUpstream;
  let chat: StubUpstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    identity = await startStub(echo('identity'));
    identity.openapi = {
      openapi: '3.1.0',
      info: { title: 'identity', version: '1' },
      tags: [{ name: 'auth' }],
      paths: { '/api/v1/auth/login': { post: { summary: 'Sign in' } } },
      components: { schemas: { User: { type: 'object' } } },
    };
    chat = await startStub(echo('chat'));
    chat.openapi = {
      openapi: '3.1.0',
      info: { title: 'chat', version: '1' },
      tags: [{ name: 'conversations' }, { name: 'auth' }],
      paths: {
        '/api/v1/conversations/{id}/messages': { get: { summary: 'History' }, post: { summary: 'Send' } },
      },
      components: { schemas: { Message: { type: 'object' }, User: { type: 'string' } } },
    };
    gateway = await startGateway({
      env: { PARLEY_UPSTREAM_IDENTITY: identity.url, PARLEY_UPSTREAM_CHAT: chat.url },
    });
    await gateway.gateway.openapi?.refresh();
  });

  after(async () => {
    await gateway.close();
    await Promise.all([identity.close(), chat.close()]);
  });

  it('serves one OpenAPI document merged from every service', async () => {
    const document = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as OpenApi;
    assert.deepEqual(Object.keys(document.paths).sort(), [
      '/api/v1/auth/login',
      '/api/v1/conversations/{id}/messages',
    ]);
    assert.deepEqual(document.components.schemas.User, { type: 'object' }, 'first definition wins');
    assert.ok(document.components.schemas.Message);
    assert.deepEqual(document.tags?.map((tag) => tag.name).sort(), ['auth', 'conversations']);
    assert.deepEqual(document['x-parley-services'], { identity: 'included', chat: 'included' });

    const docs = await fetch(`${gateway.url}/docs/json`);
    assert.deepEqual(
      Object.keys(((await docs.json()) as OpenApi).paths).length,
      2,
      '/docs renders the same document',
    );
    assert.match(await (await fetch(`${gateway.url}/docs/`)).text(), /swagger-ui/);
  });

  it('keeps a service’s last document while it is unreachable', async () => {
    chat.openapi = { broken: true };
    await chat.close();
    await gateway.gateway.openapi?.refresh();
    const document = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as OpenApi;
    assert.ok(document.paths['/api/v1/conversations/{id}/messages']);
  });

  it('exports per-route and per-upstream latency and upstream errors', async () => {
    await fetch(`${gateway.url}/api/v1/auth/login`, { method: 'POST', body: '{}' });
    await fetch(`${gateway.url}/api/v1/auth/nope`, { method: 'POST', body: '{}' });
    await fetch(`${gateway.url}/api/v1/conversations/cnv_9/messages`, {
      headers: { authorization: 'Bearer prly_k' },
    });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(
      metrics,
      /gateway_route_duration_seconds_count\{service="identity",method="POST",route="\/api\/v1\/auth\/login",status_code="200"\} 1/,
    );
    assert.match(
      metrics,
      /gateway_route_duration_seconds_count\{service="identity",method="POST",route="\/api\/v1\/auth\/\*",status_code="401"\} 1/,
      'paths no service documents fall back to their prefix (this one was refused at the edge)',
    );
    assert.match(
      metrics,
      /gateway_upstream_response_seconds_count\{service="identity",upstream="0",status_code="200"\} 1/,
    );
    assert.match(
      metrics,
      /gateway_upstream_errors_total\{service="chat",upstream="[^"]+",kind="connect"\} 1/,
    );
    assert.match(metrics, /gateway_upstream_available\{service="identity",upstream="[^"]+"\} 1/);
    assert.match(metrics, /gateway_open_websockets\{service="chat"\} 0|# TYPE gateway_open_websockets gauge/);
  });
});

interface ReadyReport {
  ready: boolean;
  degraded?: boolean;
  checks: Record<
    string,
    { ok: boolean; detail: { healthy: number; total: number; nodes: Array<Record<string, unknown>> } }
  >;
}

describe('what /ready and /metrics tell about the upstream nodes', () => {
  const OPERATOR_TOKEN = 'operator-token-0123456789abcdef0123456789';
  let alive: StubUpstream;
  let deadAddress: string;
  let gateway: GatewayUnderTest;

  before(async () => {
    alive = await startStub(echo('alive'));
    deadAddress = `127.0.0.1:${await deadPort()}`;
    gateway = await startGateway({
      env: {
        PARLEY_UPSTREAM_IDENTITY: `${alive.url},http://${deadAddress}`,
        PARLEY_INTERNAL_TOKEN: OPERATOR_TOKEN,
      },
    });
    await gateway.gateway.health?.checkAll();
    await fetch(`${gateway.url}/api/v1/auth/login`, { method: 'POST', body: '{}' });
  });

  after(async () => {
    await gateway.close();
    await alive.close();
  });

  const addresses = () => [new URL(alive.url).host, deadAddress];

  it('names nodes by position to anyone, with their state, but never their addresses', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${OPERATOR_TOKEN}`]) {
      const response = await fetch(`${gateway.url}/ready`, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(response.status, 200, 'one node of two is enough to be ready');
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const text = await response.text();
      for (const address of addresses()) assert.ok(!text.includes(address), `${address} leaked: ${text}`);
      const report = JSON.parse(text) as ReadyReport;
      assert.equal(report.degraded, true);
      const identity = report.checks['upstream:identity'];
      assert.deepEqual([identity?.ok, identity?.detail.healthy, identity?.detail.total], [true, 1, 2]);
      assert.deepEqual(identity?.detail.nodes, [
        { index: 0, healthy: true, circuit: 'closed', inFlight: 0 },
        { index: 1, healthy: false, circuit: 'closed', inFlight: 0 },
      ]);
    }
  });

  it('shows an operator holding the internal token each node’s URL and last error', async () => {
    const response = await fetch(`${gateway.url}/ready`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    assert.equal(response.status, 200);
    const nodes = ((await response.json()) as ReadyReport).checks['upstream:identity']?.detail.nodes ?? [];
    assert.deepEqual(
      nodes.map((node) => [node.index, node.url, node.healthy]),
      [
        [0, alive.url, true],
        [1, `http://${deadAddress}`, false],
      ],
    );
    assert.match(String(nodes[1]?.lastError), /ECONNREFUSED/);
  });

  it('labels upstream metrics by the node’s position, not its address', async () => {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /gateway_upstream_available\{service="identity",upstream="0"\} 1/);
    assert.match(metrics, /gateway_upstream_available\{service="identity",upstream="1"\} 0/);
    for (const address of addresses()) assert.ok(!metrics.includes(address), `${address} in /metrics`);
  });
});

describe('the web client at /', () => {
  let root: string;
  let gateway: GatewayUnderTest;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'parley-web-'));
    await writeFile(join(root, 'index.html'), '<!doctype html><title>Parley</title>');
    await writeFile(join(root, 'app.js'), 'console.log(1)');
    gateway = await startGateway({ webRoot: root });
  });

  after(async () => {
    await gateway.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves the built files when they exist, and unknown paths stay 404 problems', async () => {
    const index = await fetch(`${gateway.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await index.text(), /<title>Parley<\/title>/);
    assert.equal(await (await fetch(`${gateway.url}/app.js`)).text(), 'console.log(1)');
    const missing = await fetch(`${gateway.url}/api/v1/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'not_found');
  });

  it('serves symlinks that stay inside the root, and 404s those that lead out of it', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'parley-outside-'));
    const linked = await mkdtemp(join(tmpdir(), 'parley-web-links-'));
    try {
      await writeFile(join(outside, 'secret.txt'), 'not for the web');
      await writeFile(join(linked, 'index.html'), '<!doctype html><title>Linked</title>');
      await mkdir(join(linked, 'assets'));
      await writeFile(join(linked, 'assets', 'app.js'), 'console.log(2)');
      await symlink(join(linked, 'assets', 'app.js'), join(linked, 'alias.js'));
      await symlink(join(linked, 'assets'), join(linked, 'assets-alias'));
      await symlink(join(outside, 'secret.txt'), join(linked, 'leak.txt'));
      await symlink(outside, join(linked, 'escape'));
      await symlink('/', join(linked, 'filesystem'));
      // A link back to the root itself: listing it must still end.
      await symlink(linked, join(linked, 'assets', 'up'));
      const served = await startGateway({ webRoot: linked });
      try {
        for (const path of ['/alias.js', '/assets-alias/app.js', '/assets/app.js']) {
          const inside = await fetch(`${served.url}${path}`);
          assert.equal(inside.status, 200, path);
          assert.equal(await inside.text(), 'console.log(2)');
        }
        assert.equal((await fetch(`${served.url}/assets-alias/app.js`, { method: 'HEAD' })).status, 200);
        for (const path of ['/leak.txt', '/escape/secret.txt', '/filesystem/etc/passwd']) {
          const leak = await fetch(`${served.url}${path}`);
          assert.equal(leak.status, 404, path);
          assert.match(leak.headers.get('content-type') ?? '', /^application\/problem\+json/);
          assert.equal(((await leak.json()) as { code: string }).code, 'not_found');
        }
        // Listed at start, then pointed out of the root: judged again when asked for.
        await unlink(join(linked, 'alias.js'));
        await symlink(join(outside, 'secret.txt'), join(linked, 'alias.js'));
        assert.equal((await fetch(`${served.url}/alias.js`)).status, 404);
      } finally {
        await served.close();
      }
    } finally {
      await rm(linked, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('keeps the JSON landing when there is no build', async () => {
    const plain = await startGateway({ webRoot: join(root, 'absent') });
    try {
      const landing = (await (await fetch(`${plain.url}/`)).json()) as { name: string };
      assert.equal(landing.name, 'Parley');
    } finally {
      await plain.close();
    }
  });
});
