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
