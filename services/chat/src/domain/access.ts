import { isStaff, notFound, type Principal } from '@parley/kernel';
import type {
  ConversationRow,
  ConversationsRepository,
  MemberRow,
} from '../repositories/conversations-repository.ts';

/** The conversation types staff work without being members; direct and group ones stay private. */
export const STAFF_WORKED_TYPES: readonly ConversationRow['type'][] = ['support', 'bot'];

/** Staff work bot and support conversations without being members; direct and group ones stay private. */
export function staffMayWork(principal: Principal, conversation: Pick<ConversationRow, 'type'>): boolean {
  return isStaff(principal.role) && STAFF_WORKED_TYPES.includes(conversation.type);
}

/**
 * For a principal known not to be a member: whether they are staff working the conversation anyway (it
 * exists and is a bot or support one). Looked up only then, so members pay nothing for it.
 */
export async function staffWorksUnjoined(
  conversations: ConversationsRepository,
  principal: Principal,
  conversationId: string,
): Promise<boolean> {
  if (!isStaff(principal.role)) return false;
  const conversation = await conversations.findById(conversationId);
  return conversation !== undefined && staffMayWork(principal, conversation);
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
