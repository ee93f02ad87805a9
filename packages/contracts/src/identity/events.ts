import { type Static, Type } from 'typebox';

/** What other services may know of an account; they keep it in their own read models. */
export const UserSnapshot = Type.Object({
  id: Type.String(),
  email: Type.String(),
  displayName: Type.String(),
  role: Type.Union([
    Type.Literal('user'),
    Type.Literal('agent'),
    Type.Literal('manager'),
    Type.Literal('admin'),
  ]),
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
  active: Type.Boolean(),
});
export type UserSnapshot = Static<typeof UserSnapshot>;

export const IdentityEvents = {
  userRegistered: 'identity.user.registered',
  userUpdated: 'identity.user.updated',
  userDeactivated: 'identity.user.deactivated',
  userDeleted: 'identity.user.deleted',
  sessionRevoked: 'identity.session.revoked',
  blockCreated: 'identity.block.created',
  blockDeleted: 'identity.block.deleted',
} as const;

export const UserRegisteredData = Type.Object({ user: UserSnapshot });
export type UserRegisteredData = Static<typeof UserRegisteredData>;
export const UserUpdatedData = Type.Object({ user: UserSnapshot });
export type UserUpdatedData = Static<typeof UserUpdatedData>;
export const UserDeactivatedData = Type.Object({ userId: Type.String() });
export type UserDeactivatedData = Static<typeof UserDeactivatedData>;
export const UserDeletedData = Type.Object({ userId: Type.String() });
export type UserDeletedData = Static<typeof UserDeletedData>;

export const SessionRevokedData = Type.Object({
  userId: Type.String(),
  /** The revoked sessions; empty with `allSessions` when every session of the user ended. */
  sessionIds: Type.Array(Type.String()),
  allSessions: Type.Boolean(),
  reason: Type.Union([
    Type.Literal('logout'),
    Type.Literal('logout_all'),
    Type.Literal('session_ended'),
    Type.Literal('password_reset'),
    Type.Literal('password_changed'),
    Type.Literal('deactivated'),
    Type.Literal('deleted'),
    Type.Literal('refresh_reuse'),
  ]),
});
export type SessionRevokedData = Static<typeof SessionRevokedData>;

export const BlockData = Type.Object({ blockerId: Type.String(), blockedId: Type.String() });
export type BlockData = Static<typeof BlockData>;
