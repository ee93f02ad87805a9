import { ChatEvents, type Message, type MessageEventData } from '@parley/contracts';
import {
  conflict,
  createEvent,
  type EventActor,
  type EventEnvelope,
  forbidden,
  type Principal,
} from '@parley/kernel';
import { withSerializationRetry } from '@parley/store';
import type { MemberRole } from '../repositories/conversations-repository.ts';
import type { MessageRow } from '../repositories/messages-repository.ts';
import type { LockedConversation, SendContext, SendWrites } from '../repositories/send-repository.ts';
import { hiddenConversation, staffMayWork } from './access.ts';
import type { DomainDeps } from './deps.ts';
import type { Outcome } from './group-commit.ts';
import { toLastMessage, toMessage } from './mappers.ts';
import type { StoredAttachment } from './types.ts';

/**
 * Who is sending: a signed-in user (or staff member), whose right to write is checked in the batch, or
 * the internal API (bot replies, system notices), which needs no membership.
 */
export type SendOrigin =
  | { kind: 'member'; principal: Principal }
  | { kind: 'internal'; senderType: 'bot' | 'system' };

/** A send that passed every check that needs no database: body size, type, own attachments. */
export interface PreparedSend {
  id: string;
  conversationId: string;
  senderId: string;
  origin: SendOrigin;
  type: MessageRow['type'];
  body: string;
  attachments: StoredAttachment[];
  clientMessageId: string | null;
  actor: EventActor;
}

export interface SendResult {
  message: Message;
  /** False when the (sender, clientMessageId) pair was stored before: the original comes back. */
  created: boolean;
  /** Who must hear about it (empty for a replay). */
  memberIds: string[];
}

const clientKey = (senderId: string, clientMessageId: string) => `${senderId}\u0000${clientMessageId}`;

/**
 * Commits a batch of sends in one transaction of two statements. The first locks the conversations'
 * counter rows (in id order) and reads what every check needs — members, blocks, the stored originals of
 * replays — so no send costs a query of its own; the second writes the messages, counters, attachment
 * links and outbox events. Every new message gets the next seq of its conversation under the lock, and
 * each item's failure (closed, blocked, not a member) is its own outcome.
 */
export async function commitSendBatch(
  deps: DomainDeps,
  items: PreparedSend[],
): Promise<Outcome<SendResult>[]> {
  return withSerializationRetry(() => deps.outbox.transaction((tx) => writeBatch(deps, tx, items)));
}

type Tx = Parameters<Parameters<DomainDeps['outbox']['transaction']>[0]>[0];

async function writeBatch(deps: DomainDeps, tx: Tx, items: PreparedSend[]): Promise<Outcome<SendResult>[]> {
  const outcomes: (Outcome<SendResult> | undefined)[] = new Array(items.length);
  const context = await deps.send.lockAndLoad(tx, {
    conversationIds: [...new Set(items.map((item) => item.conversationId))],
    keys: items.flatMap((item) =>
      item.clientMessageId ? [{ senderId: item.senderId, clientMessageId: item.clientMessageId }] : [],
    ),
    writers: items.flatMap((item) =>
      item.origin.kind === 'member' ? [{ conversationId: item.conversationId, senderId: item.senderId }] : [],
    ),
  });

  // 1. Idempotency: stored originals, and repeats inside this very batch.
  const stored = new Map(context.stored.map((row) => [clientKey(row.senderId, row.clientMessageId!), row]));
  const firstInBatch = new Map<string, number>();
  const repeats: [index: number, first: number][] = [];
  const fresh: number[] = [];
  items.forEach((item, index) => {
    if (!item.clientMessageId) {
      fresh.push(index);
      return;
    }
    const key = clientKey(item.senderId, item.clientMessageId);
    const original = stored.get(key);
    if (original)
      outcomes[index] = { ok: true, value: { message: toMessage(original), created: false, memberIds: [] } };
    else if (firstInBatch.has(key)) repeats.push([index, firstInBatch.get(key)!]);
    else {
      firstInBatch.set(key, index);
      fresh.push(index);
    }
  });

  // 2. Checks and seqs, under the conversations' row locks.
  const counters = new Map(
    [...context.conversations.values()].map((row) => [row.id, { lastSeq: row.lastSeq, status: row.status }]),
  );
  const createdAt = new Date();
  const rows: MessageRow[] = [];
  const rowIndex: number[] = [];
  const joins: SendWrites['joins'][number][] = [];
  for (const index of fresh) {
    const item = items[index]!;
    const counter = counters.get(item.conversationId);
    if (!counter) {
      outcomes[index] = { ok: false, error: hiddenConversation() };
      continue;
    }
    const senderType = checkWriter(context, item, counter.status, joins);
    if (senderType instanceof Error) {
      outcomes[index] = { ok: false, error: senderType };
      continue;
    }
    counter.lastSeq += 1;
    // A user writing again reopens a resolved conversation (API.md status machine).
    if (counter.status === 'resolved' && senderType === 'user') counter.status = 'open';
    rows.push({
      id: item.id,
      conversationId: item.conversationId,
      seq: counter.lastSeq,
      senderId: item.senderId,
      senderType,
      type: item.type,
      body: item.body,
      attachments: item.attachments,
      clientMessageId: item.clientMessageId,
      createdAt,
      editedAt: null,
      deletedAt: null,
      revision: null,
    });
    rowIndex.push(index);
  }

  // 3. One statement writes it all and hands back who must hear about it.
  const lastRows = new Map<string, MessageRow>();
  for (const row of rows) lastRows.set(row.conversationId, row);
  const events: EventEnvelope[] = [];
  const messages: Message[] = [];
  rows.forEach((row, position) => {
    const conversation = context.conversations.get(row.conversationId)!;
    const message = toMessage(row);
    const data: MessageEventData = {
      message,
      conversation: {
        id: row.conversationId,
        type: conversation.type,
        ...(conversation.botId !== null ? { botId: conversation.botId } : {}),
        status: counters.get(row.conversationId)!.status,
        handledBy: conversation.handledBy,
      },
    };
    messages.push(message);
    events.push(createEvent(ChatEvents.messageCreated, data, { actor: items[rowIndex[position]!]!.actor }));
  });
  const audience =
    rows.length === 0
      ? new Map<string, string[]>()
      : await deps.send.write(tx, {
          messages: rows,
          counters: [...lastRows.values()].map((row) => ({
            id: row.conversationId,
            lastSeq: row.seq,
            lastMessage: toLastMessage(row),
            status: counters.get(row.conversationId)!.status,
          })),
          links: rows.flatMap((row) =>
            row.attachments.map((attachment) => ({
              attachmentId: attachment.id,
              messageId: row.id,
              conversationId: row.conversationId,
            })),
          ),
          joins,
          events,
        });
  // The statement's snapshot predates its own inserts: agents who just joined are added here.
  for (const join of joins) {
    const list = audience.get(join.conversationId) ?? [];
    if (!list.includes(join.userId)) list.push(join.userId);
    audience.set(join.conversationId, list);
  }
  rows.forEach((row, position) => {
    outcomes[rowIndex[position]!] = {
      ok: true,
      value: {
        message: messages[position]!,
        created: true,
        memberIds: audience.get(row.conversationId) ?? [],
      },
    };
  });

  for (const [index, first] of repeats) {
    const original = outcomes[first]!;
    outcomes[index] = original.ok
      ? { ok: true, value: { ...original.value, created: false, memberIds: [] } }
      : original;
  }
  return outcomes.map((outcome) => outcome ?? { ok: false, error: new Error('send was not processed') });
}

/**
 * May this item be written? The same checks, in the same order, as reading then writing over REST: an
 * outsider learns nothing (404), a closed conversation refuses (409), a block forbids (403). Returns the
 * sender type, or the error; a staff member starting to work a conversation is recorded to join it.
 */
function checkWriter(
  context: SendContext,
  item: PreparedSend,
  status: LockedConversation['status'],
  joins: SendWrites['joins'][number][],
): MessageRow['senderType'] | Error {
  const closed = () =>
    conflict('The conversation is closed; it takes no more messages.', 'conversation_closed');
  if (item.origin.kind === 'internal') return status === 'closed' ? closed() : item.origin.senderType;
  const conversation = context.conversations.get(item.conversationId)!;
  const roles = context.members.get(item.conversationId) ?? new Map<string, MemberRole>();
  const role = roles.get(item.senderId);
  const mayWork = staffMayWork(item.origin.principal, conversation);
  if (role === undefined && !mayWork) return hiddenConversation();
  if (status === 'closed') return closed();
  if (context.blocked.has(`${item.conversationId} ${item.senderId}`))
    return forbidden('You cannot message this user.');
  if (role === undefined) {
    joins.push({ conversationId: item.conversationId, userId: item.senderId });
    // Later items of the batch see the agent as a member already.
    roles.set(item.senderId, 'agent');
    context.members.set(item.conversationId, roles);
    return 'agent';
  }
  return role === 'agent' ? 'agent' : 'user';
}
