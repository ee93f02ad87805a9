import type { MessageEventData } from '@parley/contracts';

type EventConversation = Partial<MessageEventData['conversation']>;

/** A conversation a bot answers in: a bot one, or a support one with a bot chosen for it. */
export function answeredByBot<C extends EventConversation>(
  conversation: C,
): conversation is C & { botId: string } {
  return (conversation.type === 'bot' || conversation.type === 'support') && Boolean(conversation.botId);
}
