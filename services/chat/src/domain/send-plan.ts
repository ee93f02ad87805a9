import type { Message } from '@parley/contracts';
import { conflict, type EventActor, forbidden, isStaff, newId, type Principal } from '@parley/kernel';
import type { CommittedEvent } from '@parley/store';
import type { MessageRow } from '../repositories/messages-repository.ts';
import type { BatchItem, BatchVerdict } from '../repositories/send-repository.ts';
import { hiddenConversation } from './access.ts';
import { previewOf, toAttachment, toMessage } from './mappers.ts';
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
  /** Its `chat.message.created` event, for this process to publish once the sender has the answer. */
  event?: CommittedEvent;
  /**
   * The conversation's `chat.conversation.updated` event, when this write (the last of its batch there)
   * found it resolved and reopened it, or a staff member joined it with the batch.
   */
  conversationEvent?: CommittedEvent;
}

/** The statement's view of a send: its fields once, with what only the database knows left open. */
export function toBatchItem(send: PreparedSend): BatchItem {
  const preview = previewOf(send.body);
  return {
    id: send.id,
    conversationId: send.conversationId,
    senderId: send.senderId,
    origin: send.origin.kind,
    staff: send.origin.kind === 'member' && isStaff(send.origin.principal.role),
    internalType: send.origin.kind === 'internal' ? send.origin.senderType : null,
    type: send.type,
    body: send.body,
    attachments: send.attachments,
    clientMessageId: send.clientMessageId,
    preview: preview === send.body ? null : preview,
    shownAttachments: send.attachments.map(toAttachment),
    eventId: newId('evt'),
    updateEventId: newId('evt'),
    actor: send.actor,
  };
}

/** The message a write stored. */
export function writtenMessage(send: PreparedSend, verdict: BatchVerdict, createdAt: Date): Message {
  return toMessage(rowOf(send, verdict.seq ?? 0, verdict.senderType, createdAt));
}

/** Why a send was refused: the same errors REST gives for the same checks. */
export function refusal(verdict: 'hidden' | 'closed' | 'blocked' | 'handed_off' | 'reused'): Error {
  if (verdict === 'handed_off')
    return conflict('People handle this conversation now; its bot stays quiet.', 'not_handled_by_bot');
  if (verdict === 'reused')
    return conflict(
      'This clientMessageId already names one of your messages in another conversation; use a new one.',
      'client_message_id_reused',
    );
  if (verdict === 'closed')
    return conflict('The conversation is closed; it takes no more messages.', 'conversation_closed');
  if (verdict === 'blocked') return forbidden('You cannot message this user.');
  return hiddenConversation();
}

function rowOf(
  send: PreparedSend,
  seq: number,
  senderType: MessageRow['senderType'],
  createdAt: Date,
): MessageRow {
  return {
    id: send.id,
    conversationId: send.conversationId,
    seq,
    senderId: send.senderId,
    senderType,
    type: send.type,
    body: send.body,
    attachments: send.attachments,
    clientMessageId: send.clientMessageId,
    createdAt,
    editedAt: null,
    deletedAt: null,
    revision: null,
  };
}
