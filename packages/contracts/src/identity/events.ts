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

/**
 * Orders identity's changes to one account, and to one block: a later change to the same account (or the
 * same blocker and blocked pair) always carries a larger revision, whatever the clocks of identity's
 * processes say and in whatever order the bus delivers. A read model applies an event only when its
 * revision is at least the one it already reflects. The envelope's `occurredAt` cannot serve: it is the
 * publishing process's clock in milliseconds, and identity's processes do not share a clock. Absent from
 * events published before revisions existed.
 */
const ChangeRevision = Type.Optional(Type.Integer({ minimum: 1 }));

export const UserRegisteredData = Type.Object({ user: UserSnapshot, revision: ChangeRevision });
export type UserRegisteredData = Static<typeof UserRegisteredData>;
export const UserUpdatedData = Type.Object({ user: UserSnapshot, revision: ChangeRevision });
export type UserUpdatedData = Static<typeof UserUpdatedData>;
export const UserDeactivatedData = Type.Object({ userId: Type.String(), revision: ChangeRevision });
export type UserDeactivatedData = Static<typeof UserDeactivatedData>;
/** The account is gone for good: identity never uses its id again. */
export const UserDeletedData = Type.Object({ userId: Type.String(), revision: ChangeRevision });
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

export const BlockData = Type.Object({
  blockerId: Type.String(),
  blockedId: Type.String(),
  revision: ChangeRevision,
});
export type BlockData = Static<typeof BlockData>;
