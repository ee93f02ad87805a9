/**
 * Where presence lives in the Cache, shared by chat (which writes it from socket connections) and identity
 * (which reads it for GET /users/{id}).
 *
 * - `presenceKey(userId)` is a member set: one member per process holding at least one of the user's
 *   sockets (the member is that process's node id), each with a TTL the process keeps refreshing. The user
 *   is online while the set has a live member, so several tabs and several processes count once. A
 *   process that dies is found out by the surviving chat processes within seconds, and they remove its
 *   members (chat's realtime/presence-nodes.ts); its members also expire on their own, as a last resort.
 * - `lastSeenKey(userId)` holds the ISO 8601 time the user was last seen online (set on connect and when
 *   the last connection goes away, or to the last heartbeat of the dead process that held it). It only
 *   moves forwards (written with the Cache's setIfGreater), so a process that writes an older time, whether
 *   it read the record before another wrote it or its clock lags, cannot move it back.
 */
export function presenceKey(userId: string): string {
  return `presence:${userId}`;
}

export function lastSeenKey(userId: string): string {
  return `presence:last-seen:${userId}`;
}

export interface Presence {
  status: 'online' | 'offline';
  lastSeenAt: string | null;
}

/** The two Cache operations reading presence needs (structural, so the kernel does not depend on the cache). */
export interface PresenceReader {
  members(key: string): Promise<string[]>;
  get(key: string): Promise<string | null>;
}

export async function readPresence(cache: PresenceReader, userId: string): Promise<Presence> {
  const [members, lastSeen] = await Promise.all([
    cache.members(presenceKey(userId)),
    cache.get(lastSeenKey(userId)),
  ]);
  return { status: members.length > 0 ? 'online' : 'offline', lastSeenAt: lastSeen };
}
