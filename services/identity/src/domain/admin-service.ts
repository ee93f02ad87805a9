import { conflict, cutoffSecondsFor, notFound, type Principal, type Role } from '@parley/kernel';
import type { Tx } from '@parley/store';
import { identityEvents, userActor } from '../events/identity-events.ts';
import type { UserRow } from '../schema/users.ts';
import { decodeCursor, pageOf } from './cursor.ts';
import { cutoffMoment } from './cutoff-moment.ts';
import type { IdentityContext } from './identity-context.ts';
import { revoke } from './revocation.ts';
import { type AdminUserView, toAdminUserView } from './user-views.ts';

export interface AdminUserFilter {
  q?: string;
  role?: Role;
  active?: boolean;
  limit: number;
  cursor?: string;
}

const lastAdmin = () =>
  conflict('This would leave Parley without an active admin; make someone else admin first.', 'last_admin');

/** User management for admins: roles, deactivation (revokes everything at once) and deletion. */
export class AdminService {
  constructor(private readonly context: IdentityContext) {}

  async list(filter: AdminUserFilter) {
    const rows = await this.context.users.list(this.context.database.db, {
      query: filter.q?.trim(),
      matchEmail: true,
      role: filter.role,
      active: filter.active,
      afterId: decodeCursor(filter.cursor),
      limit: filter.limit + 1,
    });
    return pageOf(rows, filter.limit, toAdminUserView);
  }

  async update(
    admin: Principal,
    userId: string,
    changes: { role?: Role; active?: boolean },
  ): Promise<AdminUserView> {
    return this.context.outbox.transaction(async (tx) => {
      const before = await this.context.users.findById(tx, userId, { forUpdate: true });
      if (!before) throw notFound('There is no such user.');
      const roleChanged = changes.role !== undefined && changes.role !== before.role;
      const deactivated = changes.active === false && before.active;
      const reactivated = changes.active === true && !before.active;
      if ((roleChanged || deactivated) && before.role === 'admin') await this.assertAnotherAdmin(tx, userId);
      if (!roleChanged && !deactivated && !reactivated) return toAdminUserView(before);

      const now = this.context.clock();
      const cutoffAt = cutoffMoment(before.tokensValidAfter, now);
      const after = await this.context.users.update(tx, userId, {
        ...(roleChanged ? { role: changes.role } : {}),
        ...(changes.active !== undefined ? { active: changes.active } : {}),
        // Tokens carry the role: the old ones must stop working, new ones (after refresh) carry the new role.
        ...(roleChanged || deactivated ? { tokensValidAfter: cutoffAt } : {}),
      });
      if (!after) throw notFound('There is no such user.');
      const actor = userActor(admin.userId);
      if (deactivated) {
        const ended = await this.context.sessions.revokeAllForUser(tx, userId, 'deactivated', now);
        const revision = await this.context.revisions.next(tx);
        await this.context.outbox.add(tx, identityEvents.userDeactivated(userId, revision, actor));
        await revoke(this.context, tx, {
          userId,
          sessionIds: ended,
          allSessions: true,
          reason: 'deactivated',
          actor,
          cutoffAt,
        });
      } else if (roleChanged) {
        await this.context.denyList.denyUserBefore(userId, cutoffSecondsFor(cutoffAt.getTime()));
      }
      if (roleChanged || reactivated) {
        const revision = await this.context.revisions.next(tx);
        await this.context.outbox.add(tx, identityEvents.userUpdated(after, revision, actor));
      }
      return toAdminUserView(after);
    });
  }

  async delete(admin: Principal, userId: string): Promise<void> {
    await this.context.outbox.transaction(async (tx) => {
      const user = await this.context.users.findById(tx, userId, { forUpdate: true });
      if (!user) throw notFound('There is no such user.');
      if (user.role === 'admin') await this.assertAnotherAdmin(tx, userId);
      const sessionIds = await this.context.sessions.listIdsForUser(tx, userId);
      await this.context.users.delete(tx, userId);
      const actor = userActor(admin.userId);
      const revision = await this.context.revisions.next(tx);
      await this.context.outbox.add(tx, identityEvents.userDeleted(userId, revision, actor));
      await revoke(this.context, tx, {
        userId,
        sessionIds,
        allSessions: true,
        reason: 'deleted',
        actor,
        cutoffAt: this.context.clock(),
      });
    });
  }

  private async assertAnotherAdmin(tx: Tx, userId: UserRow['id']): Promise<void> {
    // Counted under the lock, each count sees the changes committed before it.
    await this.context.users.lockAdminChanges(tx);
    if ((await this.context.users.countActiveAdmins(tx, { excluding: userId })) === 0) throw lastAdmin();
  }
}
