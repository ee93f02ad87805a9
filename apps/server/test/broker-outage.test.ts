import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { connect as connectNats } from 'nats';
import type { ParleyProcess } from '../src/cluster/parley-process.ts';
import { CuttableProxy } from './support/cuttable-proxy.ts';
import { freePort } from './support/free-port.ts';
import { call, eventually, register, type Session } from './support/parley-client.ts';
import { openDirect, openDirectOnceKnown, startSingleProcess } from './support/single-process.ts';

const backends = testBackends();
const skip =
  (!backends.databaseUrl && skipReason('DATABASE_URL', 'the broker outage test')) ||
  (!backends.natsUrl && skipReason('NATS_URL', 'the broker outage test'));

/*
 * NATS going away under a running process: nothing a user does needs the broker there and then (writes go
 * to PostgreSQL with their events in the outbox), so requests keep succeeding; the events wait in the
 * outbox and reach their consumers once the broker is back, none lost.
 */
describe('a process whose NATS goes away and comes back', { skip }, () => {
  const suffix = randomBytes(4).toString('hex');
  const stream = `PARLEY_B_${suffix}`;
  let database: TestDatabase;
  let proxy: CuttableProxy;
  let dataDir: string;
  let parley: ParleyProcess;
  let base: string;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  let conversationId: string;

  before(async () => {
    database = await openPostgresTestDatabase(backends.databaseUrl as string, 2);
    const nats = new URL(backends.natsUrl as string);
    proxy = await CuttableProxy.start(
      { host: nats.hostname, port: Number(nats.port || 4222) },
      await freePort(),
    );
    dataDir = await mkdtemp(join(tmpdir(), 'parley-broker-'));
    ({ parley, base } = await startSingleProcess(
      {
        DATABASE_URL: database.url as string,
        NATS_URL: `nats://127.0.0.1:${proxy.port}`,
        PARLEY_NATS_STREAM: stream,
        PARLEY_NATS_SUBJECT_PREFIX: `b${suffix}`,
      },
      dataDir,
    ));
    alice = await register(base, `alice-${suffix}@example.com`);
    bob = await register(base, `bob-${suffix}@example.com`);
    conversationId = await openDirectOnceKnown(base, alice, bob);
  });

  after(async () => {
    await parley?.stop(15_000);
    await proxy?.cut();
    await database?.dispose();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    const nats = await connectNats({ servers: backends.natsUrl as string });
    await (await nats.jetstreamManager()).streams.delete(stream).catch(() => false);
    await nats.close();
  });

  it('keeps taking writes while the broker is unreachable, and delivers their events once it is back', async () => {
    await proxy.cut();
    // Writes: a sign-up (identity) and messages (chat), each durable with its event in the outbox.
    carol = await register(base, `carol-${suffix}@example.com`);
    for (const body of ['one', 'two', 'three']) {
      const sent = await call(base, 'POST', `/api/v1/conversations/${conversationId}/messages`, {
        token: alice.accessToken,
        body: { body, clientMessageId: `during-${body}` },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
    }
    const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(health.status, 200);
    await health.body?.cancel();
    // Chat cannot have heard of carol: her sign-up's event is waiting in identity's outbox.
    const early = await openDirect(base, alice, carol);
    assert.equal(early.status, 404, JSON.stringify(early.body));

    await proxy.restore();
    await eventually(
      async () => (await openDirect(base, alice, carol)).status === 201,
      60_000,
      'chat to learn of carol',
    );
    const history = await call<{ items: { seq: number; body: string }[] }>(
      base,
      'GET',
      `/api/v1/conversations/${conversationId}/messages`,
      { token: bob.accessToken },
    );
    assert.deepEqual(
      history.body.items.map((message) => [message.seq, message.body]),
      [
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ],
    );
    await parley.waitFor('/ready', 30_000);
  });
});
