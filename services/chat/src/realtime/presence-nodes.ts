import type { Cache } from '@parley/cache';

/**
 * The chat processes' own presence bookkeeping in the Cache, beside the per-user keys of kernel's
 * presence.ts (which identity reads too). A "holder" is the id under which one process holds presence
 * claims. Per holder:
 *
 * - `presence:nodes` lists it (a member set), so survivors know whom to check;
 * - `presence:node:<holder>:alive` exists while it keeps heartbeating (a short ttl);
 * - `presence:node:<holder>:last-alive` keeps the time of its last heartbeat after `alive` has lapsed;
 * - `presence:node:<holder>:users` lists the users it holds a claim for, so a survivor can release them;
 * - `presence:node:<holder>:gone` is set by the one survivor that took on its cleanup.
 */
const HOLDERS_KEY = 'presence:nodes';
const aliveKey = (holderId: string) => `presence:node:${holderId}:alive`;
const lastAliveKey = (holderId: string) => `presence:node:${holderId}:last-alive`;
const usersKey = (holderId: string) => `presence:node:${holderId}:users`;
const goneKey = (holderId: string) => `presence:node:${holderId}:gone`;

export interface PresenceNodeTimings {
  /** How long a holder without a heartbeat still counts as alive. */
  livenessTtlMs: number;
  /** How long the holder list and user records last without a refresh: longer than any claim they cover. */
  recordTtlMs: number;
  /** How long a survivor's cleanup claim keeps the others away (should that survivor die mid-way). */
  cleanupClaimTtlMs: number;
}

/** A holder whose heartbeat lapsed, whose cleanup this process has claimed. */
export interface DeadHolder {
  holderId: string;
  /** Its last heartbeat: the last moment its users are known to have been online. */
  lastAliveAt: string;
}

/** Liveness of the processes holding presence claims, and the records that let survivors clean up. */
export class PresenceNodes {
  constructor(
    private readonly cache: Cache,
    private readonly timings: PresenceNodeTimings,
  ) {}

  /** Says the holder is alive. `alive` is written before the listing, so no survivor sees it listed but dead. */
  async heartbeat(holderId: string): Promise<void> {
    const now = new Date().toISOString();
    await this.cache.set(aliveKey(holderId), now, this.timings.livenessTtlMs);
    await this.cache.set(lastAliveKey(holderId), now, this.timings.recordTtlMs);
    await this.cache.addMember(HOLDERS_KEY, holderId, this.timings.recordTtlMs);
  }

  /**
   * Heartbeats unless the holder's liveness lapsed since the last one (it was stalled or cut off from the
   * cache for longer than the liveness ttl) or a survivor has taken on its cleanup: then it returns false
   * without writing, and the process must hold its claims under a new id, since survivors are releasing
   * the old one's. The `gone` check also covers a lapse that happened between the read and the write here.
   */
  async renew(holderId: string): Promise<boolean> {
    const [alive, gone] = await Promise.all([
      this.cache.get(aliveKey(holderId)),
      this.cache.get(goneKey(holderId)),
    ]);
    if (alive === null || gone !== null) return false;
    await this.heartbeat(holderId);
    return true;
  }

  /** Records that the holder has a claim on the user's presence (before the claim is made). */
  async hold(holderId: string, userId: string): Promise<void> {
    await this.cache.addMember(usersKey(holderId), userId, this.timings.recordTtlMs);
  }

  async release(holderId: string, userId: string): Promise<void> {
    await this.cache.removeMember(usersKey(holderId), userId);
  }

  async usersOf(holderId: string): Promise<string[]> {
    return this.cache.members(usersKey(holderId));
  }

  /**
   * The other holders whose liveness lapsed and whose cleanup this process just claimed: each dead holder
   * goes to exactly one survivor, however many look at the same moment. The ids this process itself held
   * claims under before (still being moved) are not others.
   */
  async claimDead(selfId: string, formerIds: ReadonlySet<string>): Promise<DeadHolder[]> {
    const others = (await this.cache.members(HOLDERS_KEY)).filter(
      (holderId) => holderId !== selfId && !formerIds.has(holderId),
    );
    const lapsed = await Promise.all(
      others.map(async (holderId) => ((await this.cache.get(aliveKey(holderId))) === null ? holderId : null)),
    );
    const claimed: DeadHolder[] = [];
    for (const holderId of lapsed) {
      if (holderId === null) continue;
      if (!(await this.cache.setIfAbsent(goneKey(holderId), selfId, this.timings.cleanupClaimTtlMs)))
        continue;
      // Without a recorded heartbeat, the latest it can have been alive is one liveness ttl ago.
      const lastAliveAt =
        (await this.cache.get(lastAliveKey(holderId))) ??
        new Date(Date.now() - this.timings.livenessTtlMs).toISOString();
      claimed.push({ holderId, lastAliveAt });
    }
    return claimed;
  }

  /**
   * Forgets a holder whose claims are all released (a graceful stop, a finished cleanup, an old id). Its
   * `gone` mark, if any, stays until it expires, so a stalled process coming back still learns of it.
   */
  async retire(holderId: string): Promise<void> {
    await this.cache.removeMember(HOLDERS_KEY, holderId);
    await Promise.all([
      this.cache.delete(aliveKey(holderId)),
      this.cache.delete(lastAliveKey(holderId)),
      this.cache.delete(usersKey(holderId)),
    ]);
  }
}
