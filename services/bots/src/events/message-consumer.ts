import type { Bus, Subscription } from '@parley/bus';
import { ChatEvents, type MessageEventData } from '@parley/contracts';
import type { EventEnvelope, Logger } from '@parley/kernel';
import type { DeadLetters } from '@parley/store';
import type { ReplyDispatcher } from '../replies/reply-dispatcher.ts';
import type { RepliesRepository } from '../repositories/replies-repository.ts';
import type { TranscriptRepository } from '../repositories/transcript-repository.ts';
import { answeredByBot } from './answered-by-bot.ts';

export const MESSAGES_GROUP = 'bots.messages';

export interface MessageConsumerDeps {
  bus: Bus;
  transcript: TranscriptRepository;
  replies: RepliesRepository;
  dispatcher: ReplyDispatcher;
  /** How long a claimed reply is this process's before another may take it over. */
  leaseMs: number;
  /** Where an operator replays this consumer's dead letters. */
  deadLetters: DeadLetters;
  logger: Logger;
}

/**
 * `chat.message.created` → the bot-facing transcript, and for a user's message in a conversation a bot
 * handles, one claimed reply. The claim (keyed by the user's message, not the event) is what makes the
 * consumer idempotent: a redelivery, a republished event or a second process finds it taken and moves on.
 * The reply itself runs in the dispatcher, so this handler stays quick and the group keeps flowing.
 */
export function consumeMessages(deps: MessageConsumerDeps): Promise<Subscription> {
  return deps.deadLetters.subscribe(deps.bus, {
    group: MESSAGES_GROUP,
    subjects: [ChatEvents.messageCreated],
    handler: (event) => handleMessage(deps, event),
  });
}

export async function handleMessage(deps: MessageConsumerDeps, event: EventEnvelope): Promise<void> {
  const data = asMessageEvent(event.data);
  if (!data) {
    deps.logger.warn({ eventId: event.id }, 'ignoring a malformed chat.message.created event');
    return;
  }
  const { message, conversation } = data;
  if (!answeredByBot(conversation)) return;
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
  const job = {
    ...claim,
    askedAt: Date.parse(message.createdAt) || Date.now(),
    attempt: 1,
    body: message.body,
  };
  // The answer's reads run while the claim is written: the provider is asked one round trip sooner, and
  // a lost claim (a redelivery, another process) only wastes reads and gives back the quota reserved.
  const prepared = deps.dispatcher.prepareAhead(job);
  let claimed = false;
  try {
    claimed = await deps.replies.recordAndClaim(entry, claim, deps.leaseMs);
  } finally {
    if (!claimed) deps.dispatcher.discard(prepared);
  }
  if (claimed) deps.dispatcher.enqueue({ ...job, prepared });
  await deps.transcript.trimAfter(entry);
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
