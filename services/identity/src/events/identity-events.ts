import {
  type BlockData,
  IdentityEvents,
  type SessionRevokedData,
  type UserDeactivatedData,
  type UserDeletedData,
  type UserRegisteredData,
  type UserSnapshot,
  type UserUpdatedData,
} from '@parley/contracts';
import { createEvent, type EventActor, type EventEnvelope } from '@parley/kernel';
import type { UserRow } from '../schema/users.ts';

/** The events identity publishes, built from the contracts in @parley/contracts (identity/events.ts). */
export function snapshotOf(user: UserRow): UserSnapshot {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    avatarUrl: user.avatarUrl,
    active: user.active,
  };
}

type Actor = EventActor | null;
type BlockPair = Pick<BlockData, 'blockerId' | 'blockedId'>;

/**
 * Every event that changes what other services know of an account or a block carries the change's
 * revision (ChangeRevisionRepository.next, drawn in the change's transaction), so they can tell a late
 * event from a newer one.
 */
export const identityEvents = {
  userRegistered: (user: UserRow, revision: number, actor: Actor): EventEnvelope<UserRegisteredData> =>
    createEvent(IdentityEvents.userRegistered, { user: snapshotOf(user), revision }, { actor }),
  userUpdated: (user: UserRow, revision: number, actor: Actor): EventEnvelope<UserUpdatedData> =>
    createEvent(IdentityEvents.userUpdated, { user: snapshotOf(user), revision }, { actor }),
  userDeactivated: (userId: string, revision: number, actor: Actor): EventEnvelope<UserDeactivatedData> =>
    createEvent(IdentityEvents.userDeactivated, { userId, revision }, { actor }),
  userDeleted: (userId: string, revision: number, actor: Actor): EventEnvelope<UserDeletedData> =>
    createEvent(IdentityEvents.userDeleted, { userId, revision }, { actor }),
  sessionRevoked: (data: SessionRevokedData, actor: Actor): EventEnvelope<SessionRevokedData> =>
    createEvent(IdentityEvents.sessionRevoked, data, { actor }),
  blockCreated: (pair: BlockPair, revision: number): EventEnvelope<BlockData> =>
    createEvent(
      IdentityEvents.blockCreated,
      { ...pair, revision },
      { actor: { type: 'user', id: pair.blockerId } },
    ),
  blockDeleted: (pair: BlockPair, revision: number): EventEnvelope<BlockData> =>
    createEvent(
      IdentityEvents.blockDeleted,
      { ...pair, revision },
      { actor: { type: 'user', id: pair.blockerId } },
    ),
};

export const userActor = (id: string): EventActor => ({ type: 'user', id });
export const systemActor: EventActor = { type: 'system', id: 'identity' };
