import type { Presence } from '@parley/kernel';
import type { UserRow, UserSettings } from '../schema/users.ts';

/** The caller's own account, as API.md's `user` (plus settings, which only its owner sees). */
export interface UserView {
  id: string;
  email: string;
  displayName: string;
  role: UserRow['role'];
  emailVerified: boolean;
  avatarUrl: string | null;
  bio: string | null;
  settings: UserSettings;
  createdAt: string;
  lastLoginAt: string | null;
}

/** What any signed-in user may see of another: no email, no settings. */
export interface PublicProfile {
  id: string;
  displayName: string;
  avatarUrl: string | null;
  bio: string | null;
}

export interface AdminUserView extends UserView {
  active: boolean;
  updatedAt: string;
}

export function toUserView(user: UserRow): UserView {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    emailVerified: user.emailVerified,
    avatarUrl: user.avatarUrl,
    bio: user.bio,
    settings: user.settings,
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

export function toPublicProfile(user: UserRow): PublicProfile {
  return { id: user.id, displayName: user.displayName, avatarUrl: user.avatarUrl, bio: user.bio };
}

export function toProfileWithPresence(
  user: UserRow,
  presence: Presence,
): PublicProfile & { presence: Presence } {
  return { ...toPublicProfile(user), presence };
}

export function toAdminUserView(user: UserRow): AdminUserView {
  return { ...toUserView(user), active: user.active, updatedAt: user.updatedAt.toISOString() };
}
