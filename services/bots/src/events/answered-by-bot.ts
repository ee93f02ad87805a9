import type { MessageEventData } from '@parley/contracts';

/** A conversation a bot answers in: a bot one, or a support one with a bot chosen for it. */
export function answeredByBot(conversation: Partial<MessageEventData['conversation']>): boolean {
  return (conversation.type === 'bot' || conversation.type === 'support') && Boolean(conversation.botId);
}
