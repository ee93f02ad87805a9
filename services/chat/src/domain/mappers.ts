import type { Attachment, Conversation, ConversationSnapshot, Member, Message } from '@parley/contracts';
import { cutBetweenCharacters } from '@parley/kernel';
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

/** How much of a body lastMessage shows, cut between characters (kernel cutBetweenCharacters). */
const PREVIEW_UNITS = 200;

/** A body as a conversation's lastMessage shows it. */
export function previewOf(body: string): string {
  return cutBetweenCharacters(body, PREVIEW_UNITS);
}

export function toLastMessage(row: MessageRow): LastMessage {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    seq: row.seq,
    senderId: row.senderId,
    type: row.type,
    body: deleted ? '' : previewOf(row.body),
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
