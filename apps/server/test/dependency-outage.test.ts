import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import type { Socket } from 'socket.io-client';
import type { ParleyProcess } from '../src/cluster/parley-process.ts';
import { CuttableProxy } from './support/cuttable-proxy.ts';
import { freePort } from './support/free-port.ts';
import { call, connected, register, type Session, socket } from './support/parley-client.ts';
import { openDirectOnceKnown, startSingleProcess } from './support/single-process.ts';

const backends = testBackends();

/** The dependency a suite cuts; the other backends (if any) stay reachable. */
type Cut = 'PostgreSQL' | 'Redis';

interface Problem {
  type: string;
  status: number;
  code: string;
  detail: string;
}

/*
 * A backing service going away under a running process: every request that needs it is told so plainly
 * (503 problem+json with Retry-After, never a 500 or a hang), readiness reports it, and once it is back the
 * process serves again with everything stored before the outage intact.
 */
outageSuite('PostgreSQL');
outageSuite('Redis');

function outageSuite(cutting: Cut): void {
  const skip =
    (!backends.databaseUrl && skipReason('DATABASE_URL', `the ${cutting} outage test`)) ||
    (cutting === 'Redis' && !backends.redisUrl && skipReason('REDIS_URL', 'the Redis outage test'));
  describe(`a process whose ${cutting} goes away and comes back`, { skip }, () => {
    let database: TestDatabase;
    let proxy: CuttableProxy;
    let dataDir: string;
    let parley: ParleyProcess;
    let alice: Session;
    let bob: Session;
    let conversationId: string;
    let base: string;
    let alicesSocket: Socket;

    before(async () => {
      database = await openPostgresTestDatabase(backends.databaseUrl as string, 2);
      const real = new URL(
        cutting === 'PostgreSQL' ? (database.url as string) : (backends.redisUrl as string),
      );
      proxy = await CuttableProxy.start(
        { host: real.hostname, port: Number(real.port || (cutting === 'PostgreSQL' ? 5432 : 6379)) },
        await freePort(),
      );
      const proxied = new URL(real);
      proxied.port = String(proxy.port);
      dataDir = await mkdtemp(join(tmpdir(), 'parley-outage-'));
      ({ parley, base } = await startSingleProcess(
        {
          DATABASE_URL: cutting === 'PostgreSQL' ? proxied.toString() : (database.url as string),
          ...(cutting === 'Redis'
            ? { REDIS_URL: proxied.toString(), PARLEY_CACHE_PREFIX: `outage${proxy.port}:` }
            : {}),
        },
        dataDir,
      ));
      alice = await register(base, `alice-${proxy.port}@example.com`);
      bob = await register(base, `bob-${proxy.port}@example.com`);
      conversationId = await openDirectOnceKnown(base, alice, bob);
      const sent = await call(base, 'POST', `/api/v1/conversations/${conversationId}/messages`, {
        token: alice.accessToken,
        body: { body: 'before the outage', clientMessageId: 'c-1' },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      alicesSocket = socket(base, alice.accessToken);
      await connected(alicesSocket);
    });

    after(async () => {
      alicesSocket?.disconnect();
      await parley?.stop(15_000);
      await proxy?.cut();
      await database?.dispose();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it(`answers 503 problems while ${cutting} is unreachable`, async () => {
      await proxy.cut();
      const attempts: [string, string, string, Session | undefined, unknown][] = [
        ['list conversations', 'GET', '/api/v1/conversations', alice, undefined],
        [
          'send a message',
          'POST',
          `/api/v1/conversations/${conversationId}/messages`,
          alice,
          { body: 'during the outage', clientMessageId: 'c-2' },
        ],
        ['read history', 'GET', `/api/v1/conversations/${conversationId}/messages`, bob, undefined],
        [
          'sign in',
          'POST',
          '/api/v1/auth/login',
          undefined,
          { email: 'nobody@example.com', password: 'a long and unusual passphrase' },
        ],
      ];
      for (const [what, method, path, session, body] of attempts) {
        const started = Date.now();
        const response = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(session ? { authorization: `Bearer ${session.accessToken}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        assert.equal(response.status, 503, `${what}: ${response.status} ${text}`);
        assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/, what);
        assert.ok(Number(response.headers.get('retry-after')) > 0, `${what}: Retry-After`);
        const problem = JSON.parse(text) as Problem;
        assert.equal(problem.code, 'unavailable', what);
        assert.equal(problem.status, 503, what);
        assert.doesNotMatch(problem.detail, /ECONN|at \S+ \(|127\.0\.0\.1/, `${what}: no internals leak`);
        // Refused at once: nothing waits for a connect timeout or a queue flush.
        assert.ok(Date.now() - started < 3_000, `${what} answered in ${Date.now() - started} ms`);
      }
      const ack = (await alicesSocket
        .timeout(10_000)
        .emitWithAck('message:send', { conversationId, body: 'by socket', clientMessageId: 'c-4' })) as {
        ok: boolean;
        error?: { code: string; message: string };
      };
      if (cutting === 'PostgreSQL') {
        assert.equal(ack.ok, false);
        assert.equal(ack.error?.code, 'unavailable');
      } else {
        // The socket was signed in before; the message is stored in PostgreSQL, which is there.
        assert.equal(ack.ok, true, JSON.stringify(ack));
      }
      assert.ok(alicesSocket.connected, 'the socket stays up');
      const ready = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(15_000) });
      assert.equal(ready.status, 503);
      await ready.body?.cancel();
      const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(health.status, 200, 'the process itself is alive: no restart is needed');
      await health.body?.cancel();
      const started = Date.now();
      const metrics = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(15_000) });
      assert.equal(metrics.status, 200, 'a scrape still answers');
      const text = await metrics.text();
      assert.ok(Date.now() - started < 5000, `the scrape took ${Date.now() - started} ms`);
      assert.match(text, /process_cpu_seconds_total/);
      // Read from the database at scrape time: left out while it cannot be read, never made up.
      if (cutting === 'PostgreSQL') assert.doesNotMatch(text, /^outbox_pending_events\{/m);
    });

    it(`serves again once ${cutting} is back, with what was stored before intact`, async () => {
      await proxy.restore();
      await parley.waitFor('/ready', 30_000);
      const history = await call<{ items: { seq: number; body: string }[] }>(
        base,
        'GET',
        `/api/v1/conversations/${conversationId}/messages`,
        { token: bob.accessToken },
      );
      assert.equal(history.status, 200, JSON.stringify(history.body));
      const storedDuring = cutting === 'PostgreSQL' ? [] : [[2, 'by socket']];
      assert.deepEqual(
        history.body.items.map((message) => [message.seq, message.body]),
        [[1, 'before the outage'], ...storedDuring],
      );
      const sent = await call<{ seq: number }>(
        base,
        'POST',
        `/api/v1/conversations/${conversationId}/messages`,
        {
          token: alice.accessToken,
          body: { body: 'after the outage', clientMessageId: 'c-3' },
        },
      );
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      assert.equal(sent.body.seq, 2 + storedDuring.length, 'no seq was used up by the refused sends');
    });
  });
}
