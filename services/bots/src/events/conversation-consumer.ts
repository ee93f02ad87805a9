import type { Bus, Subscription } from '@parley/bus';
import { ChatEvents, type ConversationDeletedData, type ConversationEventData } from '@parley/contracts';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { type ChatClient, ChatRefusedError } from '../chat/chat-client.ts';
import type { CancellationRegistry } from '../replies/cancellation.ts';

export const CONVERSATIONS_GROUP = 'bots.conversations';

export interface ConversationConsumerDeps {
  bus: Bus;
  chat: ChatClient;
  cancellation: CancellationRegistry;
  logger: Logger;
}

/**
 * Chat's conversation changes, as far as bots care: a conversation closed, deleted or handed to people
 * stops its streaming replies in every bots process; one resolved after a handoff goes back to its bot,
 * so the bot answers again when the user next writes (API.md: quiet "until the conversation is resolved").
 * Every action is idempotent, so redeliveries need no bookkeeping.
 */
export function consumeConversations(deps: ConversationConsumerDeps): Promise<Subscription> {
  return deps.bus.subscribe({
    group: CONVERSATIONS_GROUP,
    subjects: [ChatEvents.conversationUpdated, ChatEvents.conversationDeleted],
    handler: (event) => handleConversation(deps, event),
  });
}

export async function handleConversation(
  deps: ConversationConsumerDeps,
  event: EventEnvelope,
): Promise<void> {
  if (event.type === ChatEvents.conversationDeleted) {
    const { conversationId } = event.data as ConversationDeletedData;
    if (typeof conversationId === 'string') await deps.cancellation.cancel(conversationId);
    return;
  }
  const conversation = (event.data as Partial<ConversationEventData> | null)?.conversation;
  if (!conversation || typeof conversation.id !== 'string') return;
  if (conversation.type !== 'bot' && conversation.type !== 'support') return;
  if (conversation.status === 'closed' || conversation.handledBy === 'human') {
    await deps.cancellation.cancel(conversation.id);
  }
  if (conversation.status === 'resolved' && conversation.handledBy === 'human' && conversation.botId) {
    try {
      await deps.chat.updateConversation(conversation.id, { handledBy: 'bot' });
    } catch (error) {
      if (!(error instanceof ChatRefusedError)) throw error;
      deps.logger.info(
        { conversationId: conversation.id, code: error.code },
        'could not give the conversation back to its bot',
      );
    }
  }
}
