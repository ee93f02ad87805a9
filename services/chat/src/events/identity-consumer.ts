import type { Bus, Subscription } from '@parley/bus';
import {
  type BlockData,
  IdentityEvents,
  type SessionRevokedData,
  type UserDeactivatedData,
  type UserDeletedData,
  type UserRegisteredData,
} from '@parley/contracts';
import type { EventEnvelope, Logger, Role } from '@parley/kernel';
import { type Database, type DeadLetters, subscribeIdempotent, type Tx } from '@parley/store';
import type { UsersRepository } from '../repositories/users-repository.ts';
import { processedEvents } from '../schema/schema.ts';

/** What chat does to live connections when identity says a user or session is gone. */
export interface SessionTerminator {
  endSessions(
    userId: string,
    sessionIds: readonly string[] | 'all',
    reason: 'session_revoked' | 'deactivated',
  ): void;
  /**
   * Ends the user's connections opened with a token of another role than `role`: identity revokes those
   * tokens when the role changes, and a connection keeps the rights its token carried at the handshake.
   */
  endOtherRoles(userId: string, role: Role): void;
}

export const IDENTITY_CONSUMER_GROUP = 'chat.identity';

/**
 * What an event says of the order of identity's changes. Events from before identity numbered its changes
 * carry none and count as 0: among themselves they apply in arrival order, as they always did, and they
 * never override a numbered change.
 */
function revisionOf(event: EventEnvelope): number {
  const { revision } = event.data as { revision?: unknown };
  return typeof revision === 'number' && Number.isSafeInteger(revision) && revision > 0 ? revision : 0;
}

/**
 * Keeps chat's users/blocks read model in step with identity (exactly once per event: the event id is
 * recorded in the same transaction) and cuts off the sockets of revoked sessions and deactivated users.
 * Events may arrive in any order (redeliveries after a backoff, several chat processes in the group,
 * several identity relays): each is applied only if it is newer than what the read model reflects.
 */
export function consumeIdentityEvents(options: {
  bus: Bus;
  database: Database;
  users: UsersRepository;
  sessions: SessionTerminator;
  deadLetters: DeadLetters;
  logger: Logger;
}): Promise<Subscription> {
  const { users, sessions } = options;
  return subscribeIdempotent({
    bus: options.bus,
    database: options.database,
    tables: { processedEvents },
    group: IDENTITY_CONSUMER_GROUP,
    subjects: ['identity.>'],
    logger: options.logger,
    deadLetters: options.deadLetters,
    handle: async (tx: Tx, event: EventEnvelope) => {
      const revision = revisionOf(event);
      switch (event.type) {
        case IdentityEvents.userRegistered:
        case IdentityEvents.userUpdated: {
          const { user } = event.data as UserRegisteredData;
          const applied = await users.applyProfile(
            tx,
            { id: user.id, displayName: user.displayName, role: user.role, active: user.active },
            revision,
          );
          if (!applied) return;
          // A late snapshot of an account that is active again must not cut off its sockets.
          if (!user.active) sessions.endSessions(user.id, 'all', 'deactivated');
          // A role change revokes the tokens carrying the old role: a socket opened with one would keep its
          // rights (a demoted agent every support conversation) until the token expired.
          else sessions.endOtherRoles(user.id, user.role);
          return;
        }
        case IdentityEvents.userDeactivated: {
          const { userId } = event.data as UserDeactivatedData;
          if (await users.applyDeactivation(tx, userId, revision)) {
            sessions.endSessions(userId, 'all', 'deactivated');
          }
          return;
        }
        case IdentityEvents.userDeleted: {
          const { userId } = event.data as UserDeletedData;
          await users.applyDeletion(tx, userId, revision);
          sessions.endSessions(userId, 'all', 'deactivated');
          return;
        }
        case IdentityEvents.sessionRevoked: {
          const data = event.data as SessionRevokedData;
          sessions.endSessions(data.userId, data.allSessions ? 'all' : data.sessionIds, 'session_revoked');
          return;
        }
        case IdentityEvents.blockCreated:
        case IdentityEvents.blockDeleted: {
          const { blockerId, blockedId } = event.data as BlockData;
          const blocked = event.type === IdentityEvents.blockCreated;
          await users.applyBlock(tx, { blockerId, blockedId }, blocked, revision);
          return;
        }
        default:
          return;
      }
    },
  });
}
