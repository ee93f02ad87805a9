import type { DomainDeps } from './deps.ts';
import { toConversation } from './mappers.ts';

/**
 * conversation:updated to each member, with that member's own unread count, read after the change
 * committed; `alsoTell` (a member who just left) gets it with no unread count.
 */
export async function notifyConversationUpdated(
  deps: Pick<DomainDeps, 'conversations' | 'notifier'>,
  id: string,
  alsoTell: readonly string[] = [],
): Promise<void> {
  const row = await deps.conversations.findById(id);
  if (!row) return;
  const memberRows = await deps.conversations.membersOf([id]);
  const unread = await deps.conversations.unreadByMember(id);
  for (const member of memberRows) {
    deps.notifier.toUsers(
      [member.userId],
      'conversation:updated',
      toConversation(row, memberRows, unread.get(member.userId) ?? 0),
    );
  }
  if (alsoTell.length > 0)
    deps.notifier.toUsers(alsoTell, 'conversation:updated', toConversation(row, memberRows, 0));
}
