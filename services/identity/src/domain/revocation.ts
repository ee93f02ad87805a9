import type { SessionRevokedData } from '@parley/contracts';
import { cutoffSecondsFor, type EventActor } from '@parley/kernel';
import type { Tx } from '@parley/store';
import { identityEvents } from '../events/identity-events.ts';
import type { IdentityContext } from './identity-context.ts';

export interface Revocation {
  userId: string;
  sessionIds: string[];
  allSessions: boolean;
  reason: SessionRevokedData['reason'];
  actor: EventActor | null;
  /** Also deny every token of the user issued before this instant. */
  cutoffAt?: Date;
  /** Also deny this one access token (the caller's own, on logout). */
  tokenId?: string;
}

/**
 * Makes revocation bite at once: inside the transaction that ended the sessions it writes the
 * `identity.session.revoked` event to the outbox and puts the sessions (and cut-off) on the deny list.
 * A deny-list failure aborts the transaction, so a revocation is never recorded without being enforced;
 * a failure after it only over-denies, the safe side.
 */
export async function revoke(context: IdentityContext, tx: Tx, revocation: Revocation): Promise<void> {
  const { userId, sessionIds, allSessions, reason, actor } = revocation;
  if (sessionIds.length > 0 || allSessions) {
    await context.outbox.add(
      tx,
      identityEvents.sessionRevoked({ userId, sessionIds, allSessions, reason }, actor),
    );
  }
  await context.denyList.denySessions(userId, sessionIds);
  if (revocation.tokenId) await context.denyList.denyToken(userId, revocation.tokenId);
  if (revocation.cutoffAt) {
    await context.denyList.denyUserBefore(userId, cutoffSecondsFor(revocation.cutoffAt.getTime()));
  }
}

/**
 * Puts back on the deny list what the database says was revoked while a token it concerns may still be
 * valid (`lifetimeMs`, the deny list's own horizon). The deny list lives in the cache, which for
 * `npm start` is the process's memory: after any restart, a crash included, a signed-out or deactivated
 * user's access token worked again until it expired. Entries restored live their full horizon from now,
 * a little longer than needed, which only over-denies tokens that have expired anyway.
 */
export async function restoreDenyList(context: IdentityContext, lifetimeMs: number): Promise<void> {
  const since = new Date(context.clock().getTime() - lifetimeMs);
  const db = context.database.db;
  const [revoked, cutoffs] = await Promise.all([
    context.sessions.revokedSince(db, since),
    context.users.tokenCutoffsSince(db, since),
  ]);
  const byUser = new Map<string, string[]>();
  for (const { id, userId } of revoked) byUser.set(userId, [...(byUser.get(userId) ?? []), id]);
  await Promise.all([
    ...[...byUser].map(([userId, ids]) => context.denyList.denySessions(userId, ids)),
    ...cutoffs.map(({ id, tokensValidAfter }) =>
      tokensValidAfter
        ? context.denyList.denyUserBefore(id, cutoffSecondsFor(tokensValidAfter.getTime()))
        : undefined,
    ),
  ]);
}
