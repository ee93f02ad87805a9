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

export const identityEvents = {
  userRegistered: (user: UserRow, actor: Actor): EventEnvelope<UserRegisteredData> =>
    createEvent(IdentityEvents.userRegistered, { user: snapshotOf(user) }, { actor }),
  userUpdated: (user: UserRow, actor: Actor): EventEnvelope<UserUpdatedData> =>
    createEvent(IdentityEvents.userUpdated, { user: snapshotOf(user) }, { actor }),
  userDeactivated: (userId: string, actor: Actor): EventEnvelope<UserDeactivatedData> =>
    createEvent(IdentityEvents.userDeactivated, { userId }, { actor }),
  userDeleted: (userId: string, actor: Actor): EventEnvelope<UserDeletedData> =>
    createEvent(IdentityEvents.userDeleted, { userId }, { actor }),
  sessionRevoked: (data: SessionRevokedData, actor: Actor): EventEnvelope<SessionRevokedData> =>
    createEvent(IdentityEvents.sessionRevoked, data, { actor }),
  blockCreated: (data: BlockData): EventEnvelope<BlockData> =>
    createEvent(IdentityEvents.blockCreated, data, { actor: { type: 'user', id: data.blockerId } }),
  blockDeleted: (data: BlockData): EventEnvelope<BlockData> =>
    createEvent(IdentityEvents.blockDeleted, data, { actor: { type: 'user', id: data.blockerId } }),
};

export const userActor = (id: string): EventActor => ({ type: 'user', id });
export const systemActor: EventActor = { type: 'system', id: 'identity' };
