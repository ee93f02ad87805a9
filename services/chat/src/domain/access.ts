import { isStaff, notFound, type Principal } from '@parley/kernel';
import type { ConversationRow, MemberRow } from '../repositories/conversations-repository.ts';
import type { DomainDeps } from './deps.ts';

/** Staff work bot and support conversations without being members; direct and group ones stay private. */
export function staffMayWork(principal: Principal, conversation: Pick<ConversationRow, 'type'>): boolean {
  return isStaff(principal.role) && (conversation.type === 'support' || conversation.type === 'bot');
}

export function mayRead(
  principal: Principal,
  conversation: ConversationRow,
  member: MemberRow | undefined,
): boolean {
  return member !== undefined || staffMayWork(principal, conversation);
}

/** Outsiders learn nothing, not even that the conversation exists. */
export function hiddenConversation(): Error {
  return notFound('There is no such conversation.');
}

/**
 * A direct conversation whose two members have a block between them: neither side hears anything of
 * the other there (messages, typing, receipts). A group of two is not one.
 */
export async function silencedByBlock(
  deps: Pick<DomainDeps, 'conversations' | 'users'>,
  userId: string,
  conversationId: string,
  memberIds: readonly string[],
): Promise<boolean> {
  const others = memberIds.filter((memberId) => memberId !== userId);
  if (others.length !== 1) return false;
  const row = await deps.conversations.findById(conversationId);
  return row?.type === 'direct' && (await deps.users.blockedAmong(userId, others)).length > 0;
}
