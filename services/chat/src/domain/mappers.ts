import type { Attachment, Conversation, ConversationSnapshot, Member, Message } from '@parley/contracts';
import type { ConversationRow, MemberRow } from '../repositories/conversations-repository.ts';
import type { MessageRow } from '../repositories/messages-repository.ts';
import type { LastMessage, StoredAttachment } from './types.ts';

export function attachmentUrl(id: string): string {
  return `/api/v1/uploads/${id}`;
}

export function toAttachment(stored: StoredAttachment): Attachment {
  return { ...stored, url: attachmentUrl(stored.id) };
}

/** A deleted message keeps its place (seq) but loses its content: a tombstone. */
export function toMessage(row: MessageRow): Message {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    conversationId: row.conversationId,
    seq: row.seq,
    senderId: row.senderId,
    senderType: row.senderType,
    type: row.type,
    body: deleted ? '' : row.body,
    attachments: deleted ? [] : row.attachments.map(toAttachment),
    ...(row.clientMessageId !== null ? { clientMessageId: row.clientMessageId } : {}),
    createdAt: row.createdAt.toISOString(),
    ...(row.editedAt ? { editedAt: row.editedAt.toISOString() } : {}),
    ...(row.deletedAt ? { deletedAt: row.deletedAt.toISOString() } : {}),
  };
}

const PREVIEW_UNITS = 200;

/**
 * The body cut to 200 UTF-16 units, never through a surrogate pair: half an emoji is not text, and
 * PostgreSQL refuses it in JSON.
 */
function preview(body: string): string {
  if (body.length <= PREVIEW_UNITS) return body;
  const last = body.charCodeAt(PREVIEW_UNITS - 1);
  const splitsPair = last >= 0xd800 && last <= 0xdbff;
  return body.slice(0, splitsPair ? PREVIEW_UNITS - 1 : PREVIEW_UNITS);
}

export function toLastMessage(row: MessageRow): LastMessage {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    seq: row.seq,
    senderId: row.senderId,
    type: row.type,
    body: deleted ? '' : preview(row.body),
    createdAt: row.createdAt.toISOString(),
    deleted,
  };
}

export function toMembers(rows: readonly MemberRow[]): Member[] {
  return rows.map((row) => ({ userId: row.userId, role: row.role }));
}

export function toSnapshot(row: ConversationRow, memberRows: readonly MemberRow[]): ConversationSnapshot {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    createdBy: row.createdBy,
    members: toMembers(memberRows),
    ...(row.botId !== null ? { botId: row.botId } : {}),
    status: row.status,
    ...(row.assigneeId !== null ? { assigneeId: row.assigneeId } : {}),
    handledBy: row.handledBy,
    lastSeq: row.lastSeq,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toConversation(
  row: ConversationRow,
  memberRows: readonly MemberRow[],
  unreadCount: number,
): Conversation {
  return {
    ...toSnapshot(row, memberRows),
    ...(row.lastMessage ? { lastMessage: row.lastMessage } : {}),
    unreadCount,
  };
}
