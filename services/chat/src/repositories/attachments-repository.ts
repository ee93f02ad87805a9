import type { Executor } from '@parley/store';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { attachments, conversations, members, messageAttachments, messages } from '../schema/schema.ts';
import type { ConversationRow } from './conversations-repository.ts';

export type AttachmentRow = typeof attachments.$inferSelect;
export type NewAttachmentRow = typeof attachments.$inferInsert;

export class AttachmentsRepository {
  constructor(private readonly db: Executor) {}

  async insert(row: NewAttachmentRow): Promise<AttachmentRow> {
    const [created] = await this.db.insert(attachments).values(row).returning();
    return created!;
  }

  async findById(id: string): Promise<AttachmentRow | undefined> {
    const [row] = await this.db.select().from(attachments).where(eq(attachments.id, id));
    return row;
  }

  /** The attachments among `ids` that this user uploaded (only one's own uploads can be sent). */
  async findOwned(uploaderId: string, ids: readonly string[]): Promise<AttachmentRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(attachments)
      .where(and(eq(attachments.uploaderId, uploaderId), inArray(attachments.id, [...ids])));
  }

  downloadQuery(attachmentId: string, userId: string) {
    return (
      this.db
        .select({ one: sql<number>`1` })
        .from(messageAttachments)
        .innerJoin(
          members,
          and(eq(members.conversationId, messageAttachments.conversationId), eq(members.userId, userId)),
        )
        // A deleted message's attachments go with it (its tombstone shows none).
        .innerJoin(messages, and(eq(messages.id, messageAttachments.messageId), isNull(messages.deletedAt)))
        .where(eq(messageAttachments.attachmentId, attachmentId))
        .limit(1)
    );
  }

  /** True when the user is a member of a conversation the attachment was sent to, in a message not deleted. */
  async sentToMemberOf(attachmentId: string, userId: string): Promise<boolean> {
    return (await this.downloadQuery(attachmentId, userId)).length > 0;
  }

  /** True when the attachment was sent, in a message not deleted, to a conversation of one of `types`. */
  async sentToConversationOfType(
    attachmentId: string,
    types: readonly ConversationRow['type'][],
  ): Promise<boolean> {
    if (types.length === 0) return false;
    const rows = await this.db
      .select({ one: sql<number>`1` })
      .from(messageAttachments)
      .innerJoin(
        conversations,
        and(eq(conversations.id, messageAttachments.conversationId), inArray(conversations.type, [...types])),
      )
      .innerJoin(messages, and(eq(messages.id, messageAttachments.messageId), isNull(messages.deletedAt)))
      .where(eq(messageAttachments.attachmentId, attachmentId))
      .limit(1);
    return rows.length > 0;
  }
}
