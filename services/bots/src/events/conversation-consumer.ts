import type { Bus, Subscription } from '@parley/bus';
import {
  ChatEvents,
  type ConversationDeletedData,
  type ConversationEventData,
  type MessageEventData,
} from '@parley/contracts';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { type ChatClient, ChatRefusedError } from '../chat/chat-client.ts';
import type { CancellationRegistry } from '../replies/cancellation.ts';
import { answeredByBot } from './answered-by-bot.ts';

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
 * A question its author deletes is not answered: the reply to it alone stops.
 * No bookkeeping of handled events: an event may come again long after (a crash before its ack, a relay
 * republishing it), so each action is bounded by what the event saw and does nothing once the
 * conversation has moved on.
 */
export function consumeConversations(deps: ConversationConsumerDeps): Promise<Subscription> {
  return deps.bus.subscribe({
    group: CONVERSATIONS_GROUP,
    subjects: [ChatEvents.conversationUpdated, ChatEvents.conversationDeleted, ChatEvents.messageDeleted],
    handler: (event) => handleConversation(deps, event),
  });
}

export async function handleConversation(
  deps: ConversationConsumerDeps,
  event: EventEnvelope,
): Promise<void> {
  if (event.type === ChatEvents.messageDeleted) {
    // A question its author took back is not answered: the reply to it stops, queued or streaming. Only
    // where a bot answers: other deletions would reach every bots process's cancellation for nothing.
    const data = event.data as Partial<MessageEventData> | null;
    const message = data?.message;
    if (
      data?.conversation &&
      answeredByBot(data.conversation) &&
      message?.senderType === 'user' &&
      typeof message.conversationId === 'string' &&
      Number.isSafeInteger(message.seq)
    )
      await deps.cancellation.cancelReplyTo(message.conversationId, message.seq);
    return;
  }
  if (event.type === ChatEvents.conversationDeleted) {
    const { conversationId } = event.data as ConversationDeletedData;
    if (typeof conversationId === 'string') await deps.cancellation.cancel(conversationId);
    return;
  }
  const conversation = (event.data as Partial<ConversationEventData> | null)?.conversation;
  if (!conversation || typeof conversation.id !== 'string') return;
  if (conversation.type !== 'bot' && conversation.type !== 'support') return;
  // Closed is for good: nothing in it is answered again.
  if (conversation.status === 'closed') await deps.cancellation.cancel(conversation.id);
  else if (conversation.handledBy === 'human') {
    // Only the replies to what was written before this snapshot: if the conversation has come back to
    // its bot since, the replies to the user's newer messages are not this event's to stop.
    const upToSeq = typeof conversation.lastSeq === 'number' ? conversation.lastSeq : undefined;
    await deps.cancellation.cancel(conversation.id, upToSeq);
  }
  if (conversation.status === 'resolved' && conversation.handledBy === 'human' && conversation.botId) {
    await giveBack(deps, conversation.id);
  }
}

/**
 * Hands a resolved conversation back to its bot, if chat still has it resolved by people: otherwise this
 * is an old event and the conversation has moved on (an agent reopened it and works it, the user wrote
 * again), and taking it from the people now handling it would undo their work.
 */
async function giveBack(deps: ConversationConsumerDeps, conversationId: string): Promise<void> {
  try {
    await deps.chat.updateConversation(conversationId, {
      handledBy: 'bot',
      expect: { status: 'resolved', handledBy: 'human' },
    });
  } catch (error) {
    if (!(error instanceof ChatRefusedError)) throw error;
    // Done either way: a stale event (precondition_failed), or a conversation deleted or closed since.
    deps.logger.info(
      { conversationId, code: error.code },
      error.code === 'precondition_failed'
        ? 'not giving the conversation back to its bot: it has changed since it was resolved'
        : 'could not give the conversation back to its bot',
    );
  }
}
