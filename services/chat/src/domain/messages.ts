import { availableParallelism } from 'node:os';
import { ChatEvents, type Message, type MessageEventData } from '@parley/contracts';
import {
  badRequest,
  conflict,
  createEvent,
  type EventActor,
  forbidden,
  newId,
  notFound,
  type Principal,
  payloadTooLarge,
} from '@parley/kernel';
import type { ChatMetrics } from '../ops/chat-metrics.ts';
import type { ConversationRow, MemberRow } from '../repositories/conversations-repository.ts';
import type { MessageRow } from '../repositories/messages-repository.ts';
import { hiddenConversation, mayRead } from './access.ts';
import { notifyConversationUpdated } from './conversation-notice.ts';
import type { DomainDeps } from './deps.ts';
import { GroupCommitter, type Outcome } from './group-commit.ts';
import { toLastMessage, toMessage } from './mappers.ts';
import { commitSendBatch, type PreparedSend, type SendResult } from './send-batch.ts';

export interface SendInput {
  body: string;
  type?: MessageRow['type'] | undefined;
  clientMessageId?: string | undefined;
  attachmentIds?: string[] | undefined;
}

export interface PostInput {
  conversationId: string;
  senderId: string;
  senderType: 'bot' | 'system';
  body: string;
  type?: MessageRow['type'] | undefined;
  clientMessageId: string;
}

export interface GroupCommitTuning {
  maxWaitMs?: number;
  maxBatch?: number;
  lanes?: number;
}

/** Sending, editing and deleting messages; every send goes through the group committer. */
export class MessageService {
  private readonly committer: GroupCommitter<PreparedSend, SendResult>;

  constructor(
    private readonly deps: DomainDeps,
    tuning: GroupCommitTuning = {},
  ) {
    this.committer = new GroupCommitter({
      lanes: defaultLanes(),
      ...tuning,
      // A conversation always maps to the same lane: its sends commit in order, and lanes committing side
      // by side lock disjoint conversations.
      laneOf: (item) => item.conversationId,
      commit: async (items) => {
        const started = performance.now();
        try {
          const outcomes = await commitSendBatch(deps, items);
          // Counted before anyone hears back: whoever is told "stored" can see it counted.
          countStored(deps.metrics, outcomes);
          return outcomes;
        } finally {
          deps.metrics.sendBatchSize.observe(items.length);
          deps.metrics.sendCommitSeconds.observe((performance.now() - started) / 1000);
        }
      },
      // The senders' acks go out before the events: a consumer in this process (bots, with PGlite's
      // queries running on this thread) would otherwise keep the acks waiting.
      afterAnswering: (outcomes) => {
        const events = outcomes.flatMap((outcome) =>
          outcome.ok
            ? [outcome.value.event, outcome.value.conversationEvent].filter((e) => e !== undefined)
            : [],
        );
        if (events.length > 0) deps.outbox.published(events);
      },
    });
  }

  /**
   * A member's (or, in bot and support conversations, a staff member's) message; idempotent by
   * clientMessageId. Whether the sender may write there is checked in the batch's statement, under the
   * conversation's lock, so a send costs no query of its own.
   */
  async send(principal: Principal, conversationId: string, input: SendInput): Promise<SendResult> {
    this.checkBody(input.body, input.attachmentIds);
    if (input.type === 'system')
      throw badRequest('Only the system sends system messages.', [
        { path: 'type', message: 'must not be system' },
      ]);
    const attachmentIds = input.attachmentIds ?? [];
    // An outsider learns nothing, not even whether the uploads are theirs: 404 before 400. Sends with
    // attachments are rare enough to afford the extra lookup; the batch checks membership again anyway.
    if (attachmentIds.length > 0) await this.readable(principal, conversationId);
    const attachments = await this.ownAttachments(principal.userId, attachmentIds);
    const type =
      input.type ??
      (attachments.length === 0
        ? 'text'
        : attachments.every((a) => a.mimeType.startsWith('image/'))
          ? 'image'
          : 'file');
    return this.submit({
      id: newId('msg'),
      conversationId,
      senderId: principal.userId,
      origin: { kind: 'member', principal },
      type,
      body: input.body,
      attachments,
      clientMessageId: input.clientMessageId ?? null,
      actor: { type: 'user', id: principal.userId },
    });
  }

  /** Bot replies and system notices through the internal API: no membership, same ordering and idempotency. */
  async post(input: PostInput): Promise<SendResult> {
    this.checkBody(input.body, []);
    return this.submit({
      id: newId('msg'),
      conversationId: input.conversationId,
      senderId: input.senderId,
      origin: { kind: 'internal', senderType: input.senderType },
      type: input.type ?? (input.senderType === 'system' ? 'system' : 'text'),
      body: input.body,
      attachments: [],
      clientMessageId: input.clientMessageId,
      actor: { type: input.senderType === 'bot' ? 'bot' : 'system', id: input.senderId },
    });
  }

  /**
   * What a service posted with `clientMessageId` as `senderId` in the conversation, for a poster that
   * must know whether a post of a run that died went through (bots asks before answering a reply again).
   */
  async findPosted(conversationId: string, senderId: string, clientMessageId: string): Promise<Message> {
    const row = await this.deps.messages.findByClientMessageId(conversationId, senderId, clientMessageId);
    if (!row) throw notFound('There is no such message.');
    return toMessage(row);
  }

  async edit(
    principal: Principal,
    conversationId: string,
    messageId: string,
    body: string,
  ): Promise<Message> {
    // Whether it may be blank depends on the message's attachments, checked once it is read (change()).
    this.checkSize(body);
    return this.change(principal, conversationId, messageId, 'edit', body);
  }

  async delete(principal: Principal, conversationId: string, messageId: string): Promise<Message> {
    return this.change(principal, conversationId, messageId, 'delete', '');
  }

  private async submit(prepared: PreparedSend): Promise<SendResult> {
    const result = await this.committer.submit(prepared);
    if (result.created) this.deps.notifier.toUsers(result.memberIds, 'message:new', result.message);
    // After the message itself, so a client sees the message that reopened the conversation first. Not
    // awaited: the message is stored whatever becomes of the notice (its event is in the outbox), and a
    // sender answered with an error would send again.
    if (result.conversationEvent) {
      notifyConversationUpdated(this.deps, prepared.conversationId).catch((error: unknown) =>
        this.deps.logger.warn(
          { err: error, conversationId: prepared.conversationId },
          'conversation:updated after a send could not be sent',
        ),
      );
    }
    return result;
  }

  private async change(
    principal: Principal,
    conversationId: string,
    messageId: string,
    kind: 'edit' | 'delete',
    body: string,
  ): Promise<Message> {
    const { conversation } = await this.readable(principal, conversationId);
    // Editing is writing: not to someone who blocked you, or whom you blocked (deleting stays possible).
    if (
      kind === 'edit' &&
      conversation.type === 'direct' &&
      (await this.deps.users.blockSilences(principal.userId, conversationId))
    )
      throw forbidden('You cannot message this user.');
    const { row, memberRows } = await this.deps.outbox.transaction(async (tx) => {
      // The conversation's row lock comes first, as for sends and deletes: changes to its messages queue
      // on it (an edit racing a delete sees the tombstone), and a conversation deleted meanwhile is gone.
      const [locked] = await this.deps.conversations.lockForSend(tx, [conversationId]);
      if (!locked) throw notFound('There is no such message.');
      const current = await this.deps.messages.findById(messageId, tx);
      if (!current || current.conversationId !== conversationId) throw notFound('There is no such message.');
      const mayDeleteOthers = kind === 'delete' && principal.role === 'admin';
      if (current.senderId !== principal.userId && !mayDeleteOthers)
        throw forbidden('Only its author can change a message.');
      if (current.deletedAt) throw conflict('The message was deleted.', 'message_deleted');
      if (locked.status === 'closed') throw conflict('The conversation is closed.', 'conversation_closed');
      // A message sent with attachments needs no text, so its text may also be edited away.
      if (kind === 'edit')
        this.checkBody(
          body,
          current.attachments.map((attachment) => attachment.id),
        );
      const revision = await this.deps.sync.nextRevision(tx);
      const now = new Date();
      const patch =
        kind === 'edit'
          ? { body, editedAt: now, revision }
          : { body: '', attachments: [], deletedAt: now, revision };
      const updated = await this.deps.messages.update(tx, messageId, patch);
      if (!updated) throw notFound('There is no such message.');
      // Not the last one when read means not the last one now: messages are only ever added after it.
      if (conversation.lastMessage?.id === messageId) {
        await this.deps.conversations.refreshLastMessage(tx, conversationId, toLastMessage(updated));
      }
      const memberRows = await this.deps.conversations.membersOf([conversationId], tx);
      const data: MessageEventData = {
        message: toMessage(updated),
        conversation: {
          id: conversation.id,
          type: conversation.type,
          ...(conversation.botId !== null ? { botId: conversation.botId } : {}),
          status: conversation.status,
          handledBy: conversation.handledBy,
        },
      };
      const type = kind === 'edit' ? ChatEvents.messageUpdated : ChatEvents.messageDeleted;
      await this.deps.outbox.add(tx, createEvent(type, data, { actor: actorOf(principal) }));
      return { row: updated, memberRows };
    });
    const message = toMessage(row);
    this.deps.notifier.toUsers(
      memberRows.map((member) => member.userId),
      kind === 'edit' ? 'message:updated' : 'message:deleted',
      message,
    );
    return message;
  }

  /** The conversation and the caller's membership, or 404 for anyone who may not see it. */
  async readable(
    principal: Principal,
    conversationId: string,
  ): Promise<{ conversation: ConversationRow; member: MemberRow | undefined }> {
    const found = await this.deps.conversations.findWithMember(conversationId, principal.userId);
    if (!found) throw hiddenConversation();
    const { conversation, member } = found;
    if (!mayRead(principal, conversation, member)) throw hiddenConversation();
    return { conversation, member };
  }

  /**
   * What every message body must be, whoever sends it; `field` names it in the error (a conversation's
   * opening system message is checked here before the conversation is written).
   */
  checkBody(body: string, attachmentIds: readonly string[] | undefined, field = 'body'): void {
    this.checkSize(body);
    if (body.trim() === '' && (attachmentIds ?? []).length === 0) {
      throw badRequest('A message needs a body or an attachment.', [
        { path: field, message: 'must not be empty' },
      ]);
    }
  }

  private checkSize(body: string): void {
    if (Buffer.byteLength(body, 'utf8') > this.deps.limits.messageMaxBytes) {
      throw payloadTooLarge(`A message body may have at most ${this.deps.limits.messageMaxBytes} bytes.`);
    }
  }

  private async ownAttachments(userId: string, ids: readonly string[]) {
    if (ids.length === 0) return [];
    const rows = await this.deps.attachments.findOwned(userId, ids);
    if (rows.length !== ids.length) {
      throw badRequest('Only your own uploads can be attached.', [
        { path: 'attachmentIds', message: 'unknown upload' },
      ]);
    }
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id)!;
      return { id: row.id, name: row.name, mimeType: row.mimeType, size: row.size };
    });
  }
}

/**
 * One lane per two cores, at most four (each lane holds a pooled connection while it commits). A lane keeps
 * one database backend busy; where the service and the database share a small machine, more lanes only
 * split the load into more, smaller batches, each paying a statement's fixed cost (on 2 cores, 4 lanes cost
 * ~20% more database CPU per message than 1 and doubled the ack latency at half load).
 */
function defaultLanes(): number {
  return Math.min(4, Math.max(1, Math.floor(availableParallelism() / 2)));
}

function countStored(metrics: ChatMetrics, outcomes: readonly Outcome<SendResult>[]): void {
  const bySenderType = new Map<string, number>();
  for (const outcome of outcomes) {
    if (!outcome.ok || !outcome.value.created) continue;
    const { senderType } = outcome.value.message;
    bySenderType.set(senderType, (bySenderType.get(senderType) ?? 0) + 1);
  }
  for (const [senderType, count] of bySenderType)
    metrics.messagesStored.inc({ sender_type: senderType }, count);
}

export function actorOf(principal: Principal): EventActor {
  return { type: principal.kind === 'service' ? 'service' : 'user', id: principal.userId };
}
