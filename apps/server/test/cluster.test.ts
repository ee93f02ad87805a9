import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { connect as connectNats } from 'nats';
import type { Socket } from 'socket.io-client';
import { type ParleyProcess, startParleyProcess } from '../src/cluster/parley-process.ts';
import { clusterTopology, type Topology } from '../src/cluster/topology.ts';
import { freePort } from './support/free-port.ts';
import {
  call,
  connected,
  eventually,
  history,
  type MessageView,
  register,
  type Session,
  socket,
} from './support/parley-client.ts';

const backends = testBackends();

/** The cluster is proven with identity and chat; without their builders there is nothing to prove it with. */
async function missingServices(): Promise<string | undefined> {
  const absent: string[] = [];
  const identity = await import('@parley/identity').catch(() => undefined);
  if (typeof identity?.buildIdentity !== 'function') absent.push('identity (buildIdentity)');
  const chat = await import('@parley/chat').catch(() => undefined);
  if (typeof chat?.buildChat !== 'function') absent.push('chat (buildChat)');
  if (absent.length === 0) return undefined;
  const reason = `SKIPPED: the cluster test needs the services ${absent.join(' and ')}`;
  console.warn(`\n!!! ${reason} !!!\n`);
  return reason;
}

const skip =
  (!backends.databaseUrl && skipReason('DATABASE_URL', 'the distributed cluster test')) ||
  (!backends.redisUrl && skipReason('REDIS_URL', 'the distributed cluster test')) ||
  (!backends.natsUrl && skipReason('NATS_URL', 'the distributed cluster test')) ||
  (await missingServices());

const HEALTH_INTERVAL_MS = 300;
const START_MS = 90_000;

interface Readiness {
  ready: boolean;
  degraded?: boolean;
  checks: Record<
    string,
    { ok: boolean; detail?: { healthy: number; nodes: Array<{ index: number; healthy: boolean }> } }
  >;
}

interface SendAck {
  ok: boolean;
  message?: MessageView;
  error?: { code: string };
}

describe('a gateway and two service nodes over PostgreSQL, Redis and NATS', { skip }, () => {
  const suffix = randomBytes(4).toString('hex');
  const stream = `PARLEY_T_${suffix}`;
  let database: TestDatabase;
  let dataDir: string;
  let topology: Topology;
  let gateway: ParleyProcess;
  const nodes: ParleyProcess[] = [];
  const sockets: Socket[] = [];
  let alice: Session;
  let bob: Session;
  let conversationId: string;

  const gatewayUrl = () => topology.gateway.url;
  const readiness = async () => (await call<Readiness>(gatewayUrl(), 'GET', '/ready')).body;
  const fullyReady = async () => {
    const report = await readiness();
    return report.ready && report.degraded !== true;
  };

  async function restartNode(index: number): Promise<void> {
    const spec = topology.nodes[index];
    assert.ok(spec);
    nodes[index] = startParleyProcess(spec);
    await nodes[index].waitFor('/ready', START_MS);
    await eventually(fullyReady, 10_000, 'the gateway to take the node back');
  }

  before(async () => {
    database = await openPostgresTestDatabase(backends.databaseUrl as string, 2);
    dataDir = await mkdtemp(join(tmpdir(), 'parley-cluster-'));
    topology = clusterTopology({
      gatewayPort: await freePort(),
      nodePorts: [await freePort(), await freePort()],
      gatewayHost: '127.0.0.1',
      databaseUrl: database.url as string,
      redisUrl: backends.redisUrl as string,
      natsUrl: backends.natsUrl as string,
      internalToken: randomBytes(32).toString('hex'),
      dataDir,
      healthIntervalMs: HEALTH_INTERVAL_MS,
      env: {
        LOG_LEVEL: 'warn',
        // This run's keys, channels, stream and subjects are its own: parallel runs do not meet.
        PARLEY_CACHE_PREFIX: `t${suffix}:`,
        PARLEY_NATS_STREAM: stream,
        PARLEY_NATS_SUBJECT_PREFIX: `t${suffix}`,
        PARLEY_RATE_LIMIT: '100000',
        PARLEY_AUTH_RATE_LIMIT: '1000',
        PARLEY_OUTBOX_POLL_MS: '100',
      },
    });
    for (const spec of topology.nodes) nodes.push(startParleyProcess(spec));
    await Promise.all(nodes.map((node) => node.waitFor('/ready', START_MS)));
    gateway = startParleyProcess(topology.gateway);
    await gateway.waitFor('/ready', START_MS);
    await eventually(fullyReady, 10_000, 'every node healthy at the gateway');
  });

  after(async () => {
    for (const client of sockets) client.disconnect();
    await Promise.all([gateway, ...nodes].map((child) => child?.stop(15_000)));
    await database?.dispose();
    await rm(dataDir, { recursive: true, force: true });
    const nats = await connectNats({ servers: backends.natsUrl as string });
    const manager = await nats.jetstreamManager();
    await manager.streams.delete(stream).catch(() => false);
    await nats.close();
  });

  it('knows a user registered through the gateway on both nodes', async () => {
    alice = await register(gatewayUrl(), `alice-${suffix}@example.com`);
    bob = await register(gatewayUrl(), `bob-${suffix}@example.com`);
    for (const node of topology.nodes) {
      const me = await call<{ id: string }>(node.url, 'GET', '/api/v1/auth/me', { token: alice.accessToken });
      assert.equal(me.status, 200, node.name);
      assert.equal(me.body.id, alice.userId);
    }
  });

  it('lets a socket on node A and a socket on node B exchange messages', async () => {
    const created = await call<{ id: string }>(gatewayUrl(), 'POST', '/api/v1/conversations', {
      token: alice.accessToken,
      body: { type: 'direct', memberIds: [bob.userId] },
    });
    assert.equal(created.status, 201);
    conversationId = created.body.id;

    const onA = socket(topology.nodes[0]?.url as string, alice.accessToken);
    const onB = socket(topology.nodes[1]?.url as string, bob.accessToken);
    const viaGateway = socket(gatewayUrl(), bob.accessToken);
    sockets.push(onA, onB, viaGateway);
    await Promise.all([connected(onA), connected(onB), connected(viaGateway)]);

    const nextMessage = (client: Socket) =>
      new Promise<MessageView>((resolve) =>
        client.once('message:new', (message: MessageView) => resolve(message)),
      );
    const bobHears = nextMessage(onB);
    const bobHearsViaGateway = nextMessage(viaGateway);
    const ack = (await onA.timeout(5000).emitWithAck('message:send', {
      conversationId,
      body: 'hello from node A',
      clientMessageId: `a-${suffix}`,
    })) as SendAck;
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal((await bobHears).body, 'hello from node A');
    assert.equal((await bobHearsViaGateway).body, 'hello from node A');

    const aliceHears = nextMessage(onA);
    const reply = (await onB.timeout(5000).emitWithAck('message:send', {
      conversationId,
      body: 'hello from node B',
      clientMessageId: `b-${suffix}`,
    })) as SendAck;
    assert.equal(reply.ok, true, JSON.stringify(reply));
    assert.equal((await aliceHears).body, 'hello from node B');
    for (const client of sockets.splice(0)) client.disconnect();
  });

  it('loses nothing when a node is SIGKILLed under traffic, keeps serving, and reports the loss', async (t) => {
    const acknowledged = new Map<string, MessageView>();
    const sends: Array<{ startedAt: number; attempts: number }> = [];
    let started = 0;
    let exitedAt = Number.POSITIVE_INFINITY;
    // Three senders at once, so requests are in flight on the node at the moment it dies.
    const sender = async (lane: number) => {
      for (let i = 0; i < 20; i++) {
        if (++started === 15) {
          nodes[1]?.child.kill('SIGKILL');
          void nodes[1]?.exited.then(() => {
            exitedAt = performance.now();
          });
        }
        const startedAt = performance.now();
        const clientMessageId = `kill-${suffix}-${lane}-${i}`;
        let attempts = 0;
        for (;;) {
          attempts++;
          const sent = await call<MessageView>(
            gatewayUrl(),
            'POST',
            `/api/v1/conversations/${conversationId}/messages`,
            {
              token: alice.accessToken,
              body: { body: `lane ${lane} message ${i}`, clientMessageId },
            },
          ).catch(() => ({ status: 0, body: undefined }));
          if ((sent.status === 201 || sent.status === 200) && sent.body) {
            acknowledged.set(clientMessageId, sent.body);
            break;
          }
          assert.ok(attempts < 20, `send ${lane}/${i} kept failing (last status ${sent.status})`);
          // The same clientMessageId again: a retry can never store a second copy.
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        sends.push({ startedAt, attempts });
        // Paced, so that on a fast machine too the survivor is seen serving for a while after the kill.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await Promise.all([0, 1, 2].map(sender));
      await nodes[1]?.exited;
      const attempts = sends.map((send) => send.attempts).join(',');
      t.diagnostic(`attempts per send, in completion order (node B killed at the 15th): ${attempts}`);

      const stored = await history(gatewayUrl(), alice.accessToken, conversationId);
      assert.deepEqual(
        stored.map((message) => message.seq),
        stored.map((_, index) => index + 1),
        'seq starts at 1 and has no gaps or repeats',
      );
      for (const [clientMessageId, message] of acknowledged) {
        const copies = stored.filter((m) => m.clientMessageId === clientMessageId);
        assert.equal(copies.length, 1, `${clientMessageId} stored exactly once`);
        assert.equal(copies[0]?.id, message.id);
        assert.equal(copies[0]?.seq, message.seq);
      }
      assert.equal(acknowledged.size, 60);
      // A send in flight when the node died may fail once: the gateway never repeats a POST that may have
      // reached a node. Every send begun once the death was visible (the process gone, and a moment for the
      // gateway to see its connections closed) succeeds at the first try through the survivor.
      const afterDeath = sends.filter((send) => send.startedAt > exitedAt + 100);
      assert.ok(afterDeath.length >= 15, `sends kept coming after the kill (${afterDeath.length})`);
      assert.ok(
        afterDeath.every((send) => send.attempts === 1),
        `after the kill every send succeeds at once through the survivor: ${attempts}`,
      );

      const report = await readiness();
      assert.equal(report.ready, true);
      assert.equal(report.degraded, true, 'the loss is reported');
      // Nodes are named by their position in the gateway's upstream lists: node 1 is the one killed.
      for (const service of ['identity', 'chat']) {
        const nodesSeen = report.checks[`upstream:${service}`]?.detail?.nodes ?? [];
        assert.deepEqual(
          nodesSeen.map((node) => [node.index, node.healthy]),
          topology.nodes.map((_node, index) => [index, index !== 1]),
          service,
        );
      }
    } finally {
      // The next test needs both nodes, whatever happened in this one.
      await restartNode(1);
    }
  });

  it('rolls a node with SIGTERM under traffic: no failed request, sockets told and back in sync', async (t) => {
    const clients: Array<{
      socket: Socket;
      seen: Map<number, string>;
      reasons: string[];
      lastSeq: () => number;
    }> = [];
    for (const session of [alice, bob, alice, bob]) {
      const client = socket(gatewayUrl(), session.accessToken, { reconnection: true });
      const seen = new Map<number, string>();
      const reasons: string[] = [];
      const lastSeq = () => Math.max(0, ...seen.keys());
      client.on('message:new', (message: MessageView) => {
        if (message.conversationId === conversationId) seen.set(message.seq, message.id);
      });
      client.on('disconnect', (reason) => {
        reasons.push(reason);
        // A server-side disconnect is final in Socket.IO: the client decides to come back.
        if (reason === 'io server disconnect') setTimeout(() => client.connect(), 100);
      });
      client.on('connect', async () => {
        const synced = (await client.timeout(10_000).emitWithAck('sync', {
          conversations: { [conversationId]: lastSeq() },
        })) as { ok: boolean; messages: MessageView[] };
        for (const message of synced.messages ?? []) seen.set(message.seq, message.id);
      });
      sockets.push(client);
      clients.push({ socket: client, seen, reasons, lastSeq });
      await connected(client);
    }

    const victim = nodes[0] as ParleyProcess;
    let failed = 0;
    let sent = 0;
    let stopped = false;
    const traffic = (async () => {
      while (!stopped) {
        const response = await call(
          gatewayUrl(),
          'POST',
          `/api/v1/conversations/${conversationId}/messages`,
          {
            token: sent % 2 === 0 ? alice.accessToken : bob.accessToken,
            body: { body: `rolling ${sent}`, clientMessageId: `roll-${suffix}-${sent}` },
          },
        ).catch(() => ({ status: 0 }));
        if (response.status !== 201) failed++;
        sent++;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    victim.child.kill('SIGTERM');
    assert.equal(await victim.exited, 0, victim.output());
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stopped = true;
    await traffic;

    t.diagnostic(
      `${sent} sends, ${failed} failed; disconnect reasons: ${clients.map((c) => c.reasons.join('+') || 'none').join(', ')}`,
    );
    assert.ok(sent > 20, `traffic flowed throughout (${sent} sends)`);
    assert.equal(failed, 0, `no request through the gateway failed (${failed} of ${sent})`);

    const dropped = clients.filter((client) => client.reasons.length > 0);
    assert.ok(dropped.length > 0, 'some sockets were on the stopped node');
    for (const client of dropped) {
      assert.ok(
        client.reasons.every((reason) => reason === 'io server disconnect' || reason === 'transport close'),
        `closed by the server going away: ${client.reasons.join(', ')}`,
      );
    }

    const stored = await history(gatewayUrl(), alice.accessToken, conversationId);
    assert.deepEqual(
      stored.map((message) => message.seq),
      stored.map((_, index) => index + 1),
    );
    await eventually(
      () => clients.every((client) => client.socket.connected && client.seen.size >= stored.length - 2),
      15_000,
      'every client reconnected and caught up',
    );
    for (const [index, client] of clients.entries()) {
      // Everything since the client connected (the first two messages predate these sockets).
      const expected = stored
        .filter((message) => message.seq > 2)
        .map((message) => [message.seq, message.id]);
      const got = [...client.seen].filter(([seq]) => seq > 2).sort(([a], [b]) => a - b);
      assert.deepEqual(got, expected, `client ${index} has every message once, by sync if not live`);
    }
    for (const client of sockets.splice(0)) client.disconnect();
    await restartNode(0);
  });
});
