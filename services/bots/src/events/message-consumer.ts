import type { Bus, Subscription } from '@parley/bus';
import { ChatEvents, type MessageEventData } from '@parley/contracts';
import type { EventEnvelope, Logger } from '@parley/kernel';
import type { Database } from '@parley/store';
import type { ReplyDispatcher } from '../replies/reply-dispatcher.ts';
import type { BotsRepository } from '../repositories/bots-repository.ts';
import type { RepliesRepository } from '../repositories/replies-repository.ts';
import type { TranscriptRepository } from '../repositories/transcript-repository.ts';
import { deadLetters } from '../schema/schema.ts';

export const MESSAGES_GROUP = 'bots.messages';

export interface MessageConsumerDeps {
  bus: Bus;
  database: Database;
  transcript: TranscriptRepository;
  replies: RepliesRepository;
  bots: BotsRepository;
  dispatcher: ReplyDispatcher;
  /** How long a claimed reply is this process's before another may take it over. */
  leaseMs: number;
  logger: Logger;
}

/**
 * `chat.message.created` → the bot-facing transcript, and for a user's message in a conversation a bot
 * handles, one claimed reply. The claim (keyed by the user's message, not the event) is what makes the
 * consumer idempotent: a redelivery, a republished event or a second process finds it taken and moves on.
 * The reply itself runs in the dispatcher, so this handler stays quick and the group keeps flowing.
 */
export function consumeMessages(deps: MessageConsumerDeps): Promise<Subscription> {
  return deps.bus.subscribe({
    group: MESSAGES_GROUP,
    subjects: [ChatEvents.messageCreated],
    handler: (event) => handleMessage(deps, event),
    onDeadLetter: async (event, error, attempts) => {
      await deps.database.db.insert(deadLetters).values({
        consumer: MESSAGES_GROUP,
        eventId: event.id,
        type: event.type,
        envelope: event,
        error: error instanceof Error ? error.message : String(error),
        attempts,
      });
    },
  });
}

export async function handleMessage(deps: MessageConsumerDeps, event: EventEnvelope): Promise<void> {
  const data = asMessageEvent(event.data);
  if (!data) {
    deps.logger.warn({ eventId: event.id }, 'ignoring a malformed chat.message.created event');
    return;
  }
  const { message, conversation } = data;
  if ((conversation.type !== 'bot' && conversation.type !== 'support') || !conversation.botId) return;
  const entry = {
    conversationId: conversation.id,
    seq: message.seq,
    messageId: message.id,
    senderType: message.senderType,
    body: message.body,
    createdAt: new Date(message.createdAt),
  };
  const answerable =
    message.senderType === 'user' &&
    message.deletedAt === undefined &&
    conversation.handledBy === 'bot' &&
    conversation.status !== 'closed' &&
    conversation.status !== 'pending';
  if (!answerable) {
    await deps.transcript.record(entry);
    return;
  }
  const claim = {
    triggerMessageId: message.id,
    conversationId: conversation.id,
    triggerSeq: message.seq,
    botId: conversation.botId,
    userId: message.senderId,
  };
  // All at once: the reply waits neither for its own transcript line (the job carries the question) nor
  // for a second round trip to read its bot; if the line fails the event is redelivered to write it, while
  // the claim keeps the reply single.
  const bot = deps.bots.findById(conversation.botId);
  bot.catch(() => {});
  const [recorded, claimed] = await Promise.allSettled([
    deps.transcript.record(entry),
    deps.replies.claim(claim, deps.leaseMs),
  ]);
  if (claimed.status === 'rejected') throw claimed.reason;
  if (claimed.value) {
    deps.dispatcher.enqueue({
      ...claim,
      askedAt: Date.parse(message.createdAt) || Date.now(),
      attempt: 1,
      body: message.body,
      bot,
    });
  }
  if (recorded.status === 'rejected') throw recorded.reason;
}

/** Enough of the event's shape checked to route it; chat's contract says the rest. */
function asMessageEvent(data: unknown): MessageEventData | undefined {
  const candidate = data as Partial<MessageEventData> | null;
  const message = candidate?.message;
  const conversation = candidate?.conversation;
  if (
    typeof message?.id !== 'string' ||
    typeof message.seq !== 'number' ||
    typeof message.body !== 'string' ||
    typeof message.senderId !== 'string' ||
    typeof conversation?.id !== 'string'
  ) {
    return undefined;
  }
  return candidate as MessageEventData;
}
