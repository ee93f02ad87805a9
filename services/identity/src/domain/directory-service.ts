import type { Cache } from '@parley/cache';
import { badRequest, notFound, readPresence } from '@parley/kernel';
import { identityEvents, userActor } from '../events/identity-events.ts';
import type { UserRow, UserSettings } from '../schema/users.ts';
import { decodeCursor, pageOf } from './cursor.ts';
import type { IdentityContext } from './identity-context.ts';
import {
  type PublicProfile,
  toProfileWithPresence,
  toPublicProfile,
  toUserView,
  type UserView,
} from './user-views.ts';

export interface ProfileChanges {
  displayName?: string;
  avatarUrl?: string | null;
  bio?: string | null;
  settings?: UserSettings;
}

/** Email prefixes are searched only from this length on, so short probes cannot list addresses. */
const EMAIL_SEARCH_MIN_LENGTH = 3;

/** Profiles, the user directory and blocks. */
export class DirectoryService {
  constructor(
    private readonly context: IdentityContext,
    private readonly presence: Pick<Cache, 'get' | 'members'>,
  ) {}

  /** Only the fields listed in ProfileChanges can change here: role and email are not among them. */
  async updateProfile(userId: string, changes: ProfileChanges): Promise<UserView> {
    return this.context.outbox.transaction(async (tx) => {
      const before = await this.context.users.findById(tx, userId, { forUpdate: true });
      if (!before?.active) throw notFound('The account does not exist.');
      const after = await this.context.users.update(tx, userId, {
        ...(changes.displayName !== undefined ? { displayName: changes.displayName.trim() } : {}),
        ...(changes.avatarUrl !== undefined ? { avatarUrl: changes.avatarUrl } : {}),
        ...(changes.bio !== undefined ? { bio: changes.bio } : {}),
        ...(changes.settings !== undefined ? { settings: changes.settings } : {}),
      });
      if (!after) throw notFound('The account does not exist.');
      if (after.displayName !== before.displayName || after.avatarUrl !== before.avatarUrl) {
        const revision = await this.context.revisions.next(tx);
        await this.context.outbox.add(tx, identityEvents.userUpdated(after, revision, userActor(userId)));
      }
      return toUserView(after);
    });
  }

  async search(query: string, limit: number, cursor: string | undefined) {
    const term = query.trim();
    // An empty term would match everyone: the directory is searched, never listed whole.
    if (term === '')
      throw badRequest('Search for something.', [{ path: 'querystring.q', message: 'is blank' }]);
    const rows = await this.context.users.list(this.context.database.db, {
      query: term,
      matchEmail: term.length >= EMAIL_SEARCH_MIN_LENGTH,
      active: true,
      afterId: decodeCursor(cursor),
      limit: limit + 1,
    });
    return pageOf(rows, limit, toPublicProfile);
  }

  async profile(userId: string) {
    const user = await this.activeUser(userId);
    return toProfileWithPresence(user, await readPresence(this.presence, user.id));
  }

  async block(blockerId: string, blockedId: string): Promise<void> {
    if (blockerId === blockedId) {
      throw badRequest('You cannot block yourself.', [{ path: 'params.id', message: 'is your own id' }]);
    }
    await this.activeUser(blockedId);
    await this.context.outbox.transaction(async (tx) => {
      if (await this.context.blocks.insert(tx, blockerId, blockedId)) {
        const revision = await this.context.revisions.next(tx);
        await this.context.outbox.add(tx, identityEvents.blockCreated({ blockerId, blockedId }, revision));
      }
    });
  }

  async unblock(blockerId: string, blockedId: string): Promise<void> {
    await this.context.outbox.transaction(async (tx) => {
      if (await this.context.blocks.delete(tx, blockerId, blockedId)) {
        const revision = await this.context.revisions.next(tx);
        await this.context.outbox.add(tx, identityEvents.blockDeleted({ blockerId, blockedId }, revision));
      }
    });
  }

  async listBlocked(blockerId: string): Promise<{ user: PublicProfile; createdAt: string }[]> {
    const db = this.context.database.db;
    const rows = await this.context.blocks.listBlocked(db, blockerId);
    const users = await Promise.all(rows.map((row) => this.context.users.findById(db, row.blockedId)));
    return rows.flatMap((row, index) => {
      const user = users[index];
      return user ? [{ user: toPublicProfile(user), createdAt: row.createdAt.toISOString() }] : [];
    });
  }

  private async activeUser(userId: string): Promise<UserRow> {
    const user = await this.context.users.findById(this.context.database.db, userId);
    if (!user?.active) throw notFound('There is no such user.');
    return user;
  }
}
