import { isStaff, notFound, type Principal } from '@parley/kernel';
import type { ConversationRow, MemberRow } from '../repositories/conversations-repository.ts';

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
