import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Cache, MemoryCache, RedisCache } from '@parley/cache';
import type { PresenceEvent } from '@parley/contracts';
import { lastSeenKey, presenceKey, readPresence } from '@parley/kernel';
import { skipReason, testBackends } from '@parley/kernel/testing';
import type { Notifier, ServerEvent, ServerPayload } from '../src/domain/notifier.ts';
import { PresenceTracker } from '../src/realtime/presence.ts';
import { sleep } from './support/clients.ts';
import { GatedCache } from './support/gated-cache.ts';
import { logger, waitFor } from './support/harness.ts';
import { SeverableCache } from './support/severable-cache.ts';

/*
 * Chat processes deciding one user's presence at the same moment over the cache they share. Timing alone
 * seldom lines them up badly, so each test holds one process at a chosen call to the cache (a GatedCache)
 * while another acts, and checks that what was announced follows the user's true transitions: the first
 * claim makes them online, the last one gone offline, each said once.
 */

const { redisUrl } = testBackends();

/** Every presence announcement in the order made, as a contact connected to every process hears them. */
class AnnouncementLog implements Notifier {
  private readonly heard: PresenceEvent[] = [];

  toUsers<E extends ServerEvent>(_userIds: readonly string[], event: E, payload: ServerPayload<E>): void {
    if (event === 'presence') this.heard.push(payload as PresenceEvent);
  }

  eventsOf(userId: string): PresenceEvent[] {
    return this.heard.filter((event) => event.userId === userId);
  }

  statusesOf(userId: string): PresenceEvent['status'][] {
    return this.eventsOf(userId).map((event) => event.status);
  }
}

interface Timings {
  ttlMs?: number;
  heartbeatMs?: number;
  livenessTtlMs?: number;
}

/** Processes of one cluster: each its own PresenceTracker and connection, all over one shared state. */
class Cluster {
  readonly log = new AnnouncementLog();
  private readonly trackers: PresenceTracker[] = [];
  private readonly connections: Cache[] = [];
  private readonly users: string[] = [];

  /** The test's own connection, to look at (or tamper with) the shared state as no process would. */
  readonly shared: Cache;

  constructor(private readonly connect: () => Cache) {
    this.shared = this.connection();
  }

  start<C extends Cache>(nodeId: string, wrap: (cache: Cache) => C, timings: Timings = {}) {
    const cache = wrap(this.connection());
    const presence = new PresenceTracker({
      cache,
      nodeId,
      conversations: { contactsOf: async () => [] },
      notifier: this.log,
      logger,
      ...timings,
    });
    this.trackers.push(presence);
    return { presence, cache };
  }

  user(): string {
    const userId = `usr_${randomUUID()}`;
    this.users.push(userId);
    return userId;
  }

  async close(): Promise<void> {
    await Promise.all(this.trackers.map((tracker) => tracker.stop()));
    // lastSeen is kept without expiry; everything else of the trackers expires or was retired by stop.
    await Promise.all(this.users.map((userId) => this.shared.delete(lastSeenKey(userId))));
    await Promise.all([...new Set(this.connections)].map((connection) => connection.close()));
  }

  private connection(): Cache {
    const connection = this.connect();
    this.connections.push(connection);
    return connection;
  }
}

const gated = (cache: Cache) => new GatedCache(cache);

/**
 * Waits for what a tracker's timer brings about: those timers do not keep the process alive (they are
 * unref'd), so the wait itself must, and it fails clearly rather than hang.
 */
async function soon<T>(promise: Promise<T>, what: string, timeoutMs = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeInterleavings(backend: string, connect: () => () => Cache): void {
  describe(`presence interleavings between chat processes (${backend})`, () => {
    let cluster: Cluster;
    beforeEach(() => {
      cluster = new Cluster(connect());
    });
    afterEach(() => cluster.close());

    /** Two processes, the user connected on the first. */
    async function onlineOnA() {
      const a = cluster.start('node-a', gated);
      const b = cluster.start('node-b', gated);
      const userId = cluster.user();
      a.presence.connected(userId);
      await a.presence.settled();
      return { a, b, userId };
    }

    /**
     * A process about to die with the user on it, a survivor that finds it dead within a fraction of a
     * second, and a newcomer with default timings: its own look for dead processes comes long after the
     * test, so the survivor is the one to release the dead process's claims.
     */
    async function onlineOnDoomed() {
      const timings = { heartbeatMs: 50, livenessTtlMs: 200, ttlMs: 5000 };
      const doomed = cluster.start('node-doomed', (cache) => new SeverableCache(cache), timings);
      const survivor = cluster.start('node-survivor', gated, timings);
      const newcomer = cluster.start('node-newcomer', gated);
      const userId = cluster.user();
      doomed.presence.connected(userId);
      await doomed.presence.settled();
      return { doomed, survivor, newcomer, userId };
    }

    /**
     * A decides the user offline (the lastSeen write comes after the removal) and is held before saying so,
     * while B connects the user and announces online. Returns A's gate, still closed.
     */
    async function offlineOnAHeldWhileOnlineOnB() {
      const { a, b, userId } = await onlineOnA();
      const decided = a.cache.holdAfterNextCall(lastSeenKey(userId));
      a.presence.disconnected(userId);
      await decided.reached;
      b.presence.connected(userId);
      await b.presence.settled();
      return { a, b, userId, decided };
    }

    it('keeps a user online who connects on one process as their last socket on another leaves', async () => {
      const { a, b, userId } = await onlineOnA();

      // B has made its claim (and learnt it was not the first) when A lets go of the user's last socket there.
      const gate = b.cache.holdAfterNextCall(presenceKey(userId));
      b.presence.connected(userId);
      await gate.reached;
      a.presence.disconnected(userId);
      await a.presence.settled();
      gate.release();
      await b.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), ['online'], 'never announced offline while on B');
      assert.equal((await readPresence(cluster.shared, userId)).status, 'online');
    });

    it('announces online once when a user connects on two processes at the same moment', async () => {
      const a = cluster.start('node-a', gated);
      const b = cluster.start('node-b', gated);
      const userId = cluster.user();

      const gate = a.cache.holdAfterNextCall(presenceKey(userId));
      a.presence.connected(userId);
      await gate.reached;
      b.presence.connected(userId);
      await b.presence.settled();
      gate.release();
      await a.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), ['online']);
    });

    it('announces offline once when a user leaves two processes at the same moment', async () => {
      const { a, b, userId } = await onlineOnA();
      b.presence.connected(userId);
      await b.presence.settled();

      const gate = a.cache.holdAfterNextCall(presenceKey(userId));
      a.presence.disconnected(userId);
      await gate.reached;
      b.presence.disconnected(userId);
      await b.presence.settled();
      gate.release();
      await a.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), ['online', 'offline']);
      assert.equal((await readPresence(cluster.shared, userId)).status, 'offline');
    });

    it("keeps a user online who connects on one process as a survivor releases a dead process's claim", async () => {
      // The newcomer's own release would queue behind its gate: the survivor releases the dead one's claim.
      const { doomed, survivor, newcomer, userId } = await onlineOnDoomed();
      doomed.cache.sever();

      // The newcomer has made its claim beside the dead one's when the survivor releases the dead one's.
      const gate = newcomer.cache.holdAfterNextCall(presenceKey(userId));
      newcomer.presence.connected(userId);
      await gate.reached;
      await waitFor(async () => !(await cluster.shared.members(presenceKey(userId))).includes('node-doomed'));
      await survivor.presence.settled();
      gate.release();
      await newcomer.presence.settled();

      assert.deepEqual(
        cluster.log.statusesOf(userId),
        ['online'],
        'never announced offline while on the newcomer',
      );
      assert.equal((await readPresence(cluster.shared, userId)).status, 'online');
    });

    it('leaves no claim behind when the last socket leaves during a refresh of the claim', async () => {
      // A refresh every 200 ms.
      const a = cluster.start('node-a', gated, { heartbeatMs: 50, livenessTtlMs: 200, ttlMs: 600 });
      const userId = cluster.user();
      a.presence.connected(userId);
      await a.presence.settled();

      const gate = a.cache.holdBeforeNextCall(presenceKey(userId));
      await soon(gate.reached, 'the next refresh');
      a.presence.disconnected(userId);
      // Room for the departure to run past the held refresh, where nothing keeps it in order behind it.
      await sleep(200);
      gate.release();
      await a.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), ['online', 'offline']);
      assert.equal((await readPresence(cluster.shared, userId)).status, 'offline', 'no claim left');
    });

    it('claims and announces online again a connected user whose claim a refresh finds gone', async () => {
      const a = cluster.start('node-a', gated, { heartbeatMs: 50, livenessTtlMs: 200, ttlMs: 600 });
      const userId = cluster.user();
      a.presence.connected(userId);
      await a.presence.settled();

      // As a survivor that took this process for dead would, after announcing the user offline.
      assert.equal(await cluster.shared.removeMember(presenceKey(userId), 'node-a'), 0);
      await waitFor(() => cluster.log.statusesOf(userId).length === 2, 2000);

      assert.deepEqual(cluster.log.statusesOf(userId), ['online', 'online']);
      assert.equal((await readPresence(cluster.shared, userId)).status, 'online');
    });

    it("corrects a process's offline that reaches contacts after another's online", async () => {
      const { a, userId, decided } = await offlineOnAHeldWhileOnlineOnB();
      decided.release();
      await a.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), ['online', 'online', 'offline', 'online']);
      const presence = await readPresence(cluster.shared, userId);
      assert.equal(presence.status, 'online');
      assert.equal(cluster.log.eventsOf(userId).at(-1)?.lastSeenAt, presence.lastSeenAt, 'as recorded');
    });

    it("corrects a survivor's offline for a dead process's user that reaches contacts after an online", async () => {
      const { doomed, survivor, newcomer, userId } = await onlineOnDoomed();

      // The survivor records the user's lastSeen, then announces: held after the write.
      const written = survivor.cache.holdAfterNextCall(lastSeenKey(userId));
      doomed.cache.sever();
      await soon(written.reached, "the survivor's release of the dead process's user");
      newcomer.presence.connected(userId);
      await newcomer.presence.settled();
      written.release();
      await survivor.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), ['online', 'online', 'offline', 'online']);
      const presence = await readPresence(cluster.shared, userId);
      assert.equal(presence.status, 'online');
      assert.equal(cluster.log.eventsOf(userId).at(-1)?.lastSeenAt, presence.lastSeenAt, 'as recorded');
    });

    it("keeps the later sighting when a user connects on one process as a survivor records a dead process's last heartbeat", async () => {
      const { doomed, survivor, newcomer, userId } = await onlineOnDoomed();

      // The survivor is held between what it knows of the user's lastSeen and its write of it, while the
      // newcomer records a sighting after the dead process's last heartbeat.
      const recording = survivor.cache.holdBeforeNextWrite(lastSeenKey(userId));
      doomed.cache.sever();
      await soon(recording.reached, "the survivor's release of the dead process's user");
      newcomer.presence.connected(userId);
      await newcomer.presence.settled();
      const sighting = await cluster.shared.get(lastSeenKey(userId));
      assert.ok(sighting);
      recording.release();
      await survivor.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), ['online', 'online', 'offline', 'online']);
      const presence = await readPresence(cluster.shared, userId);
      assert.equal(presence.status, 'online');
      assert.ok(
        presence.lastSeenAt !== null && presence.lastSeenAt >= sighting,
        `lastSeenAt ${presence.lastSeenAt} moved back from the sighting at ${sighting}`,
      );
      for (const event of cluster.log.eventsOf(userId).slice(1)) {
        assert.ok(
          event.lastSeenAt !== null && event.lastSeenAt >= sighting,
          `${event.status} announced with lastSeenAt ${event.lastSeenAt}, before the sighting at ${sighting}`,
        );
      }
      assert.equal(cluster.log.eventsOf(userId).at(-1)?.lastSeenAt, presence.lastSeenAt, 'as recorded');
    });

    it('keeps a later lastSeen recorded by a process whose clock runs ahead of this one', async () => {
      const a = cluster.start('node-a', gated);
      const userId = cluster.user();
      const ahead = new Date(Date.now() + 60_000).toISOString();
      await cluster.shared.set(lastSeenKey(userId), ahead);

      a.presence.connected(userId);
      await a.presence.settled();
      a.presence.disconnected(userId);
      await a.presence.settled();

      assert.deepEqual(
        cluster.log.eventsOf(userId).map(({ status, lastSeenAt }) => ({ status, lastSeenAt })),
        [
          { status: 'online', lastSeenAt: ahead },
          { status: 'offline', lastSeenAt: ahead },
        ],
        'announced as recorded',
      );
      assert.equal((await readPresence(cluster.shared, userId)).lastSeenAt, ahead);
    });

    it('corrects a correction that another process overtook before it went out', async () => {
      const { a, b, userId, decided } = await offlineOnAHeldWhileOnlineOnB();
      // A's check after its offline finds B's claim; B's socket leaves before A says online.
      const checked = a.cache.holdAfterNextCall(presenceKey(userId));
      decided.release();
      await soon(checked.reached, "A's check of what it announced");
      b.presence.disconnected(userId);
      await b.presence.settled();
      checked.release();
      await a.presence.settled();

      assert.deepEqual(cluster.log.statusesOf(userId), [
        'online',
        'online',
        'offline',
        'offline',
        'online',
        'offline',
      ]);
      assert.equal((await readPresence(cluster.shared, userId)).status, 'offline');
    });
  });
}

describeInterleavings('MemoryCache', () => {
  // One instance for the whole cluster: memory caches share nothing across instances.
  const shared = new MemoryCache();
  return () => shared;
});

if (redisUrl) {
  const url = redisUrl;
  describeInterleavings('RedisCache', () => {
    const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
    return () => new RedisCache({ url, keyPrefix, logger });
  });
} else {
  describe('presence interleavings between chat processes (RedisCache)', {
    skip: skipReason('REDIS_URL', 'presence interleavings over Redis'),
  }, () => {});
}
