import type { Bus, Subscription } from '@parley/bus';
import {
  type BlockData,
  IdentityEvents,
  type SessionRevokedData,
  type UserDeactivatedData,
  type UserDeletedData,
  type UserRegisteredData,
} from '@parley/contracts';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { type Database, subscribeIdempotent, type Tx } from '@parley/store';
import type { UsersRepository } from '../repositories/users-repository.ts';
import { deadLetters, processedEvents } from '../schema/schema.ts';

/** What chat does to live connections when identity says a user or session is gone. */
export interface SessionTerminator {
  endSessions(
    userId: string,
    sessionIds: readonly string[] | 'all',
    reason: 'session_revoked' | 'deactivated',
  ): void;
}

export const IDENTITY_CONSUMER_GROUP = 'chat.identity';

/**
 * Keeps chat's users/blocks read model in step with identity (exactly once per event: the event id is
 * recorded in the same transaction) and cuts off the sockets of revoked sessions and deactivated users.
 */
export function consumeIdentityEvents(options: {
  bus: Bus;
  database: Database;
  users: UsersRepository;
  sessions: SessionTerminator;
  logger: Logger;
}): Promise<Subscription> {
  const { users, sessions } = options;
  return subscribeIdempotent({
    bus: options.bus,
    database: options.database,
    tables: { processedEvents, deadLetters },
    group: IDENTITY_CONSUMER_GROUP,
    subjects: ['identity.>'],
    logger: options.logger,
    handle: async (tx: Tx, event: EventEnvelope) => {
      switch (event.type) {
        case IdentityEvents.userRegistered:
        case IdentityEvents.userUpdated: {
          const { user } = event.data as UserRegisteredData;
          await users.upsert(tx, {
            id: user.id,
            displayName: user.displayName,
            role: user.role,
            active: user.active,
          });
          if (!user.active) sessions.endSessions(user.id, 'all', 'deactivated');
          return;
        }
        case IdentityEvents.userDeactivated:
        case IdentityEvents.userDeleted: {
          const { userId } = event.data as UserDeactivatedData | UserDeletedData;
          await users.setActive(tx, userId, false);
          sessions.endSessions(userId, 'all', 'deactivated');
          return;
        }
        case IdentityEvents.sessionRevoked: {
          const data = event.data as SessionRevokedData;
          sessions.endSessions(data.userId, data.allSessions ? 'all' : data.sessionIds, 'session_revoked');
          return;
        }
        case IdentityEvents.blockCreated: {
          const { blockerId, blockedId } = event.data as BlockData;
          await users.addBlock(tx, blockerId, blockedId);
          return;
        }
        case IdentityEvents.blockDeleted: {
          const { blockerId, blockedId } = event.data as BlockData;
          await users.removeBlock(tx, blockerId, blockedId);
          return;
        }
        default:
          return;
      }
    },
  });
}
