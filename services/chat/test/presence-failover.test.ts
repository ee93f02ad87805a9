import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { MemoryBus } from '@parley/bus';
import type { PresenceEvent } from '@parley/contracts';
import { skipReason, testBackends } from '@parley/kernel/testing';
import { openPostgresTestDatabase, type TestDatabase } from '@parley/store/testing';
import { type ParleyProcess, startParleyProcess } from '../../../apps/server/src/cluster/parley-process.ts';
import { freePort } from '../../../apps/server/test/support/free-port.ts';
import { ADMIN } from './support/accounts.ts';
import { type ChatClient, collect, connect, sleep } from './support/clients.ts';
import {
  bearer,
  type ChatHarness,
  type HarnessOptions,
  INTERNAL_TOKEN,
  logger,
  startChat,
  type TestUser,
  waitFor,
} from './support/harness.ts';
import { SeverableCache } from './support/severable-cache.ts';

/*
 * A chat process that dies cannot say that its users went offline; the surviving processes must. The
 * timings are the defaults (heartbeat every 2 s, dead after 6 s without one), so an announcement is due
 * within about 8 s of the death: these tests allow 10 s.
 */
const ANNOUNCED_WITHIN_MS = 10_000;
/** The dead process's last heartbeat is at most one heartbeat before its death (plus a loaded machine's lag). */
const LAST_HEARTBEAT_BEFORE_DEATH_MS = 2000 + 1500;
/** Long enough for every survivor to have looked again twice: a second announcement would have come. */
const SETTLE_MS = 4500;

const { databaseUrl, redisUrl } = testBackends();

type Presence = { status: string; lastSeenAt: string | null };

async function presenceOf(harness: ChatHarness, viewer: TestUser, user: TestUser): Promise<Presence> {
  const response = await harness.app.inject({
    method: 'GET',
    url: `/api/v1/users/${user.id}`,
    headers: bearer(viewer),
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json().presence as Presence;
}

const about = (events: PresenceEvent[], user: TestUser, status: 'online' | 'offline') =>
  events.filter((event) => event.userId === user.id && event.status === status);

/** Waits for the contact's first `offline` about the user and says how long after `since` it came. */
async function offlineArrival(events: PresenceEvent[], user: TestUser, since: number) {
  await waitFor(() => about(events, user, 'offline').length > 0, ANNOUNCED_WITHIN_MS + 5000);
  return { event: about(events, user, 'offline')[0]!, afterMs: Date.now() - since };
}

function assertLastSeenJustBefore(lastSeenAt: string | null, diedAt: number): void {
  assert.ok(lastSeenAt, 'lastSeenAt is set');
  const at = Date.parse(lastSeenAt);
  assert.ok(
    at <= diedAt,
    `lastSeenAt ${lastSeenAt} should not be after the death (${new Date(diedAt).toISOString()})`,
  );
  assert.ok(
    at >= diedAt - LAST_HEARTBEAT_BEFORE_DEATH_MS,
    `lastSeenAt ${lastSeenAt} should be the dead process's last heartbeat, just before ${new Date(diedAt).toISOString()}`,
  );
}

/**
 * Waits for the dead process's user to be announced offline, in time and with its last heartbeat as
 * lastSeenAt, and checks it was said once and never of the user who also has a socket on a survivor.
 */
async function assertAnnouncedOfflineOnce(
  t: TestContext,
  seen: PresenceEvent[],
  users: { lost: TestUser; kept: TestUser },
  diedAt: number,
): Promise<PresenceEvent> {
  const { event, afterMs } = await offlineArrival(seen, users.lost, diedAt);
  assert.ok(afterMs <= ANNOUNCED_WITHIN_MS, `announced ${afterMs} ms after the death`);
  t.diagnostic(
    `offline ${afterMs} ms after the death, lastSeenAt ${diedAt - Date.parse(event.lastSeenAt ?? '')} ms before it`,
  );
  assertLastSeenJustBefore(event.lastSeenAt, diedAt);
  await sleep(SETTLE_MS);
  assert.equal(
    about(seen, users.lost, 'offline').length,
    1,
    'one offline announcement, not one per survivor',
  );
  assert.equal(
    about(seen, users.kept, 'offline').length,
    0,
    'a user with a socket on a survivor stays online',
  );
  return event;
}

describe('presence when a chat process dies (one process, MemoryCache)', () => {
  // Two chat apps in this process share one MemoryCache, as processes share Redis. A process cannot be
  // SIGKILLed from inside itself, so the "dead" app is cut off from the shared cache instead: from that
  // moment nothing it does (heartbeats, refreshes, releases) reaches the shared state, which is all the
  // survivors can see of a death. Without a Redis adapter each app pushes only to its own sockets, so the
  // contact watches from the survivor.
  let survivor: ChatHarness;
  let doomed: ChatHarness;
  let doomedCache: SeverableCache;
  const sockets: ChatClient[] = [];

  before(async () => {
    survivor = await startChat({ listen: true });
    doomed = await startChat({
      listen: true,
      sharing: survivor,
      wrapCache: (cache) => {
        doomedCache = new SeverableCache(cache);
        return doomedCache;
      },
    });
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await doomed.close();
    await survivor.close();
  });

  it('announces offline, once, a user whose only socket was on the dead process; keeps the others online', async (t) => {
    const [watcher, lost, kept] = await Promise.all([survivor.user(), survivor.user(), survivor.user()]);
    await survivor.createGroup(watcher, [lost.id, kept.id]);
    const watcherSocket = await connect(survivor.url, watcher.token);
    sockets.push(watcherSocket);
    const seen = collect(watcherSocket, 'presence');
    sockets.push(await connect(doomed.url, lost.token));
    sockets.push(await connect(doomed.url, kept.token), await connect(survivor.url, kept.token));
    await waitFor(async () => (await presenceOf(survivor, watcher, lost)).status === 'online');
    await waitFor(async () => (await presenceOf(survivor, watcher, kept)).status === 'online');

    const diedAt = Date.now();
    doomedCache.sever();

    const event = await assertAnnouncedOfflineOnce(t, seen, { lost, kept }, diedAt);
    assert.deepEqual(await presenceOf(survivor, watcher, lost), {
      status: 'offline',
      lastSeenAt: event.lastSeenAt,
    });
    assert.equal((await presenceOf(survivor, watcher, kept)).status, 'online');
  });
});

if (databaseUrl && redisUrl) {
  describe('presence when a chat process dies (processes over PostgreSQL and Redis)', () => {
    let database: TestDatabase;
    const cachePrefix = `t${randomBytes(4).toString('hex')}:`;
    const harnesses: ChatHarness[] = [];
    const sockets: ChatClient[] = [];
    let child: ParleyProcess | undefined;

    /** An in-process chat "process": its own app, bus and Redis clients; PostgreSQL and Redis shared. */
    const startProcess = async (wrapCache?: HarnessOptions['wrapCache']) => {
      const harness = await startChat({
        listen: true,
        database,
        ownsDatabase: false,
        redisUrl,
        cachePrefix,
        bus: new MemoryBus({ logger }),
        ...(wrapCache ? { wrapCache } : {}),
      });
      harnesses.push(harness);
      return harness;
    };

    before(async () => {
      database = await openPostgresTestDatabase(databaseUrl, 10);
    });
    after(async () => {
      for (const socket of sockets) socket.close();
      await child?.stop(10_000);
      for (const harness of harnesses) await harness.close();
      await database.dispose();
    });

    it('has a survivor announce offline, once, the users of a SIGKILLed process who have no other socket', async (t) => {
      const [first, second] = [await startProcess(), await startProcess()];
      // The process to kill is a real one: apps/server's main, running identity and chat like a node, on
      // the same PostgreSQL (signing keys) and Redis (same key prefix) as the two survivors.
      const port = await freePort();
      child = startParleyProcess({
        name: 'doomed-chat',
        url: `http://127.0.0.1:${port}`,
        env: {
          NODE_ENV: 'test',
          PORT: String(port),
          HOST: '127.0.0.1',
          PARLEY_SERVICES: 'identity,chat',
          DATABASE_URL: database.url as string,
          REDIS_URL: redisUrl,
          PARLEY_CACHE_PREFIX: cachePrefix,
          // The in-process bus, as the survivors have: nothing here travels on the bus.
          NATS_URL: '',
          PARLEY_DATA_DIR: first.dataDir,
          PARLEY_PUBLIC_URL: 'https://parley.test',
          PARLEY_INTERNAL_TOKEN: INTERNAL_TOKEN,
          PARLEY_ADMIN_EMAIL: ADMIN.email,
          PARLEY_ADMIN_PASSWORD: ADMIN.password,
          LOG_LEVEL: 'warn',
        },
      });
      await child.waitFor('/ready', 90_000);

      const [watcher, lost, kept] = await Promise.all([first.user(), first.user(), first.user()]);
      await first.createGroup(watcher, [lost.id, kept.id]);
      const watcherSocket = await connect(first.url, watcher.token);
      sockets.push(watcherSocket);
      const seen = collect(watcherSocket, 'presence');
      sockets.push(await connect(child.spec.url, lost.token));
      sockets.push(await connect(child.spec.url, kept.token), await connect(second.url, kept.token));
      await waitFor(() => about(seen, lost, 'online').length > 0);
      await waitFor(async () => (await presenceOf(first, watcher, kept)).status === 'online');

      const diedAt = Date.now();
      child.child.kill('SIGKILL');
      await child.exited;

      const event = await assertAnnouncedOfflineOnce(t, seen, { lost, kept }, diedAt);
      for (const harness of [first, second]) {
        assert.deepEqual(await presenceOf(harness, watcher, lost), {
          status: 'offline',
          lastSeenAt: event.lastSeenAt,
        });
        assert.equal((await presenceOf(harness, watcher, kept)).status, 'online');
      }
    });

    it('has a process the others took for dead announce its users online again once it is back', async (t) => {
      // A stall or a cut to Redis longer than the liveness ttl looks like a death to the others: they
      // announce its users offline. Here the process's cache is cut (its Socket.IO adapter is not, so its
      // announcements still travel), then healed: it must claim its users again, under a new id the
      // survivors' cleanup cannot take away, and say so to their contacts.
      const first = await startProcess();
      let cut: SeverableCache | undefined;
      const stalled = await startProcess((cache) => {
        cut = new SeverableCache(cache);
        return cut;
      });
      assert.ok(cut);
      const [watcher, lost] = await Promise.all([first.user(), first.user()]);
      await first.createGroup(watcher, [lost.id]);
      const watcherSocket = await connect(first.url, watcher.token);
      sockets.push(watcherSocket);
      const seen = collect(watcherSocket, 'presence');
      const lostSocket = await connect(stalled.url, lost.token);
      sockets.push(lostSocket);
      await waitFor(() => about(seen, lost, 'online').length === 1);

      const cutAt = Date.now();
      cut.sever();
      const { afterMs } = await offlineArrival(seen, lost, cutAt);
      assert.ok(afterMs <= ANNOUNCED_WITHIN_MS, `announced ${afterMs} ms after the cut`);
      t.diagnostic(`offline ${afterMs} ms after the cut`);

      cut.heal();
      await waitFor(() => about(seen, lost, 'online').length === 2, 5000);
      assert.equal((await presenceOf(first, watcher, lost)).status, 'online');

      // Nothing of the old id is left to keep the user online once the socket goes.
      lostSocket.close();
      await waitFor(() => about(seen, lost, 'offline').length === 2, 5000);
      assert.equal((await presenceOf(first, watcher, lost)).status, 'offline');
    });
  });
} else {
  describe('presence when a chat process dies (processes over PostgreSQL and Redis)', {
    skip: skipReason(databaseUrl ? 'REDIS_URL' : 'DATABASE_URL', 'presence across chat processes'),
  }, () => {});
}
