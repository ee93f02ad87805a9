import type { Cache } from '@parley/cache';
import type { PresenceEvent } from '@parley/contracts';
import { type Logger, lastSeenKey, presenceKey } from '@parley/kernel';
import type { Notifier } from '../domain/notifier.ts';
import type { ConversationsRepository } from '../repositories/conversations-repository.ts';
import { type DeadHolder, PresenceNodes } from './presence-nodes.ts';

export interface PresenceOptions {
  cache: Cache;
  nodeId: string;
  /** Only whom to tell: everyone who shares a conversation with the user. */
  conversations: Pick<ConversationsRepository, 'contactsOf'>;
  notifier: Notifier;
  logger: Logger;
  /** How long a process's claim on a user's presence lives without a refresh (the last resort). */
  ttlMs?: number;
  /** How often this process says it is alive and looks for processes that died. */
  heartbeatMs?: number;
  /**
   * How long a process may go without a heartbeat before the others take it for dead and announce its
   * users offline: a few heartbeats, so one slow cache round trip is not a death.
   */
  livenessTtlMs?: number;
}

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_HEARTBEAT_MS = 2000;
const DEFAULT_LIVENESS_TTL_MS = 6000;
/** How many of a dead process's users a survivor releases at once. */
const RELEASE_BATCH = 32;

type Status = PresenceEvent['status'];

/**
 * Online/offline per user across tabs and processes (the key format is kernel's presence.ts): this process
 * counts its own sockets per user and holds one refreshed member in the user's presence set while it has
 * any; the user is online while any process holds one. Changes go to everyone sharing a conversation: the
 * add that makes the set non-empty announces online, the removal that leaves it empty offline, each told so
 * by the cache in the same atomic step (a read beside the write is what processes acting at the same
 * moment could interleave, and announce a transition twice or not at all). Being decided first does not
 * make an announcement arrive first, so each is checked against the cache once sent, and corrected if
 * another process's transition has overtaken it (see announce).
 *
 * A process that dies cannot let go of its claims, so every process also heartbeats (presence-nodes.ts)
 * and keeps a record of the users it holds; survivors notice a lapsed heartbeat within about
 * `livenessTtlMs + heartbeatMs` of the last one, one of them claims the cleanup, removes the dead process's
 * claims and announces offline whoever has no claim left, with the dead process's last heartbeat as
 * `lastSeenAt` (or a later sighting, should another process have recorded one: lastSeen never moves back).
 */
export class PresenceTracker {
  private readonly local = new Map<string, number>();
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Per user, the presence work in order: a quick connect and disconnect must not interleave. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly ttlMs: number;
  private readonly nodes: PresenceNodes;
  private readonly refresher: NodeJS.Timeout;
  private readonly heartbeater: NodeJS.Timeout;
  /**
   * The id this process holds claims under: its node id, with a new suffix each time the others took it
   * for dead (a stall or a cut to the cache longer than the liveness ttl), since they release the old one's.
   */
  private holderId: string;
  /** Ids this process held claims under before its latest incarnation, until those claims are moved. */
  private readonly formerIds = new Set<string>();
  private incarnation = 0;
  private registered = false;
  private beating = false;

  constructor(private readonly options: PresenceOptions) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const livenessTtlMs = options.livenessTtlMs ?? DEFAULT_LIVENESS_TTL_MS;
    if (!(heartbeatMs > 0 && livenessTtlMs > heartbeatMs && this.ttlMs > livenessTtlMs)) {
      // Otherwise a live process would be taken for dead, or a dead one's claims would expire unannounced.
      throw new RangeError(
        `presence timings need 0 < heartbeatMs < livenessTtlMs < ttlMs (got ${heartbeatMs}, ${livenessTtlMs}, ${this.ttlMs})`,
      );
    }
    this.holderId = options.nodeId;
    this.nodes = new PresenceNodes(options.cache, {
      livenessTtlMs,
      recordTtlMs: 2 * this.ttlMs,
      cleanupClaimTtlMs: this.ttlMs,
    });
    this.refresher = setInterval(() => void this.refresh(), Math.floor(this.ttlMs / 3));
    this.refresher.unref();
    this.heartbeater = setInterval(() => void this.guard(this.beat()), heartbeatMs);
    this.heartbeater.unref();
    void this.guard(this.beat());
  }

  connected(userId: string): void {
    if (this.stopped) return;
    const count = (this.local.get(userId) ?? 0) + 1;
    this.local.set(userId, count);
    if (count === 1) this.reconcile(userId);
  }

  disconnected(userId: string): void {
    // After stop() the sockets are closed by the shutdown itself: announcing then would publish through a
    // Redis adapter whose clients are quitting, and its rejection would escape as an unhandled error.
    if (this.stopped) return;
    const count = (this.local.get(userId) ?? 1) - 1;
    if (count > 0) {
      this.local.set(userId, count);
      return;
    }
    this.local.delete(userId);
    this.reconcile(userId);
  }

  /**
   * Brings the user's shared presence in line with this process's sockets, after whatever presence work
   * for the user is still running here: decided when it runs, so a connect and a disconnect in quick
   * succession end with the claim matching the sockets (run side by side, they could leave a claim with
   * no socket, online until the claim expired).
   */
  private reconcile(userId: string): void {
    void this.guard(
      this.inOrder(userId, () => (this.local.has(userId) ? this.cameOnline(userId) : this.wentAway(userId))),
    );
  }

  /** Runs the work after the user's presence work already queued here. */
  private inOrder(userId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(userId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.chains.set(userId, next);
    return next.finally(() => {
      if (this.chains.get(userId) === next) this.chains.delete(userId);
    });
  }

  /** Resolves once the presence work under way (announcements included) has finished. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** Graceful shutdown: let go of every claim so users with no other process go offline at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.refresher);
    clearInterval(this.heartbeater);
    // Announcements started by the shutdown's own disconnects finish before the adapter below them closes.
    await this.settled();
    const users = [...this.local.keys()];
    this.local.clear();
    await Promise.allSettled(users.map((userId) => this.wentAway(userId)));
    await this.guard(this.nodes.retire(this.holderId));
  }

  /**
   * Whether this claim is the first (the user comes online) is the add's own answer: with a read before
   * the add, another process's last claim could go in between, announced offline there and online nowhere.
   */
  private async cameOnline(userId: string): Promise<void> {
    const { cache } = this.options;
    const holderId = this.holderId;
    // The record before the claim, so no claim exists that a survivor could not find and release.
    await this.nodes.hold(holderId, userId);
    const first = await cache.addMember(presenceKey(userId), holderId, this.ttlMs);
    await this.seenOnline(userId, first);
  }

  /**
   * Records that the user is online now, and tells their contacts when this process's claim was the first.
   * The record only moves forwards (another process's clock may run ahead of this one's), so what is
   * announced is what it holds afterwards, as GET /users/{id} reports it.
   */
  private async seenOnline(userId: string, firstClaim: boolean): Promise<void> {
    const lastSeenAt = await this.options.cache.setIfGreater(lastSeenKey(userId), new Date().toISOString());
    if (firstClaim) await this.announce(userId, 'online', lastSeenAt);
  }

  /**
   * Lets go of the user; the removal itself says whether it left no claim (offline), as in cameOnline. The
   * lastSeen record moves forwards only, as in seenOnline.
   */
  private async wentAway(userId: string): Promise<void> {
    const { cache } = this.options;
    const holderId = this.holderId;
    const now = new Date().toISOString();
    // The claim before the record, for the same reason as in cameOnline. A claim under a former id that
    // is still being moved is this process's too. What counts is what is left after the last removal: a
    // claim made elsewhere in between keeps the user online (and its maker announced that).
    let claimsLeft = 0;
    for (const id of [holderId, ...this.formerIds])
      claimsLeft = await cache.removeMember(presenceKey(userId), id);
    await this.nodes.release(holderId, userId);
    const lastSeenAt = await cache.setIfGreater(lastSeenKey(userId), now);
    if (claimsLeft === 0) await this.announce(userId, 'offline', lastSeenAt);
  }

  /**
   * Tells the user and their contacts, then makes sure the last thing this process said is still true. A
   * transition is decided in the cache but reaches clients later (after the lastSeen write, the contacts
   * query and the adapter's fan-out), so a later transition decided by another process can reach them
   * first, and this one would then leave them wrong until the next change. Each process's messages arrive
   * in the order it sends them, so a process that ends with what the cache held after its last message
   * went out leaves clients, once everyone has done so, with the user's real state.
   *
   * A correction is checked in turn: the state it reports was read before it went out, and may be undone
   * by another process whose own check came before this correction was sent. This goes round again only
   * when the state changed since the previous read, and this process's own work for the user waits in the
   * user's order meanwhile, so it sends at most one correction per transition another process makes in
   * that time, and stops as soon as one read agrees.
   */
  private async announce(userId: string, status: Status, lastSeenAt: string): Promise<void> {
    const { cache, conversations, notifier } = this.options;
    // One query for the announcement and its corrections, which follow within a few cache round trips.
    const recipients = [...(await conversations.contactsOf(userId)), userId];
    let said: Status = status;
    notifier.toUsers(recipients, 'presence', { userId, status, lastSeenAt });
    for (;;) {
      const truth: Status = (await cache.members(presenceKey(userId))).length > 0 ? 'online' : 'offline';
      if (truth === said) return;
      // The record as GET /users/{id} reports it: the latest sighting any process has written (seenOnline,
      // wentAway, releaseDead). Not written here: a correction reports a transition, it is no sighting.
      const recorded = (await cache.get(lastSeenKey(userId))) ?? new Date().toISOString();
      notifier.toUsers(recipients, 'presence', { userId, status: truth, lastSeenAt: recorded });
      said = truth;
    }
  }

  private async refresh(): Promise<void> {
    for (const userId of this.local.keys())
      await this.guard(this.inOrder(userId, () => this.renewClaim(userId)));
  }

  /**
   * In order with the user's other presence work: a refresh in flight beside a departure could land after
   * its removal and leave a claim with no socket behind, the user online for a ttl though announced
   * offline. A claim found gone (a survivor that took this process for dead released it, or it expired)
   * is made again and, being the first, announced: whoever emptied the set announced offline, or nobody
   * did.
   */
  private async renewClaim(userId: string): Promise<void> {
    if (!this.local.has(userId)) return;
    const holderId = this.holderId;
    // Side by side: the record and the claim exist already, unless a release took them both.
    const [, first] = await Promise.all([
      this.nodes.hold(holderId, userId),
      this.options.cache.addMember(presenceKey(userId), holderId, this.ttlMs),
    ]);
    if (first) await this.seenOnline(userId, first);
  }

  /** One heartbeat (never two at once), then the cleanup of any other process this one finds dead. */
  private async beat(): Promise<void> {
    if (this.beating || this.stopped) return;
    this.beating = true;
    try {
      if (!this.registered) {
        await this.nodes.heartbeat(this.holderId);
        this.registered = true;
      } else if (!(await this.nodes.renew(this.holderId))) {
        await this.reincarnate();
      }
      // Not awaited: releasing many users must not hold up this process's own next heartbeats. A claimed
      // holder is never claimed again, so beats cannot start a second cleanup of it.
      for (const dead of await this.nodes.claimDead(this.holderId, this.formerIds))
        void this.guard(this.releaseDead(dead));
    } finally {
      this.beating = false;
    }
  }

  /**
   * The others took this process for dead and are releasing its claims: it holds its users again under
   * a new id (announcing online whoever they already announced offline) and drops the old id's claims.
   */
  private async reincarnate(): Promise<void> {
    const formerId = this.holderId;
    this.formerIds.add(formerId);
    this.incarnation += 1;
    this.holderId = `${this.options.nodeId}.${this.incarnation}`;
    this.options.logger.warn(
      { formerId, holderId: this.holderId, users: this.local.size },
      'presence: this process missed its heartbeats and was taken for dead; holding its users again',
    );
    await this.nodes.heartbeat(this.holderId);
    // Not awaited, like a cleanup: the new id's heartbeats go on meanwhile.
    void this.guard(this.moveClaims(formerId));
  }

  private async moveClaims(formerId: string): Promise<void> {
    await this.inBatches([...this.local.keys()], (userId) =>
      this.inOrder(userId, async () => {
        // A user whose last socket left meanwhile has a wentAway queued after this, which removes both.
        if (!this.local.has(userId)) return;
        await this.cameOnline(userId);
        await this.options.cache.removeMember(presenceKey(userId), formerId);
      }),
    );
    await this.nodes.retire(formerId);
    this.formerIds.delete(formerId);
  }

  /** Removes a dead process's claims and announces offline, once, each of its users left with none. */
  private async releaseDead(dead: DeadHolder): Promise<void> {
    const { cache } = this.options;
    const users = await this.nodes.usersOf(dead.holderId);
    this.options.logger.info(
      { holderId: dead.holderId, lastAliveAt: dead.lastAliveAt, users: users.length },
      'presence: releasing the claims of a chat process that stopped heartbeating',
    );
    await this.inBatches(users, (userId) =>
      // In order with this process's own work for the user: a connect here in the meantime keeps it online.
      this.inOrder(userId, async () => {
        // Decided by the removal itself, as in wentAway: a claim another process makes meanwhile either
        // counts here or was made on an empty set and announced online by its maker.
        if ((await cache.removeMember(presenceKey(userId), dead.holderId)) > 0) return;
        // A visit to another process since the dead one's last heartbeat is the later sighting, and is kept:
        // compared and written in one step, since one recorded between a read and a write here would be
        // overwritten with the older heartbeat. (ISO 8601 UTC strings of one format sort as the times they
        // name.)
        const lastSeenAt = await cache.setIfGreater(lastSeenKey(userId), dead.lastAliveAt);
        await this.announce(userId, 'offline', lastSeenAt);
      }),
    );
    await this.nodes.retire(dead.holderId);
  }

  private async inBatches(userIds: string[], work: (userId: string) => Promise<void>): Promise<void> {
    for (let start = 0; start < userIds.length; start += RELEASE_BATCH) {
      await Promise.all(
        userIds.slice(start, start + RELEASE_BATCH).map((userId) => this.guard(work(userId))),
      );
    }
  }

  private async guard(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    try {
      await work;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'presence update failed');
    } finally {
      this.inFlight.delete(work);
    }
  }
}
