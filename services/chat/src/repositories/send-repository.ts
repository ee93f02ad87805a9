import { type Attachment, ChatEvents } from '@parley/contracts';
import type { EventActor } from '@parley/kernel';
import { type CommittedEvent, type Database, type Executor, queryPreparedDocument } from '@parley/store';
import type { StoredAttachment } from '../domain/types.ts';
import type { MessageRow } from './messages-repository.ts';
import { SEND_BATCH_SQL } from './send-statements.ts';

/** One send of a batch, as the statement takes it: seq, sender type and the event's gaps are filled there. */
export interface BatchItem {
  id: string;
  conversationId: string;
  senderId: string;
  /** A member's send is checked (membership, blocks); an internal post (bot, system) is not. */
  origin: 'member' | 'internal';
  /** The sender is staff: may write in bot and support conversations without being a member. */
  staff: boolean;
  /** An internal post's sender type. */
  internalType: 'bot' | 'system' | null;
  type: MessageRow['type'];
  body: string;
  attachments: StoredAttachment[];
  clientMessageId: string | null;
  /** The body's preview as the conversation's lastMessage shows it, when it is shorter than the body. */
  preview: string | null;
  /** The attachments as the event's message shows them (with download URLs). */
  shownAttachments: Attachment[];
  /** The `chat.message.created` event's id and actor; the statement builds the envelope. */
  eventId: string;
  /** The id of the `chat.conversation.updated` event, should this write reopen the conversation or join an agent. */
  updateEventId: string;
  actor: EventActor | null;
}

export type Verdict =
  | 'write'
  | 'replay'
  | 'repeat'
  | 'hidden'
  | 'closed'
  | 'blocked'
  | 'handed_off'
  | 'reused';

export interface BatchVerdict {
  verdict: Verdict;
  /** Set for a write. */
  seq: number | null;
  senderType: MessageRow['senderType'];
  /** The sender joined the conversation as an agent with this write. */
  joins: boolean;
}

export interface BatchResult {
  /** One per item, in batch order. */
  verdicts: BatchVerdict[];
  /** The stored original of every replay, by batch position. */
  originals: Map<number, MessageRow>;
  /** Members of every conversation written to (before this batch's agents joined). */
  audience: Map<string, string[]>;
  /** The `chat.message.created` and `chat.conversation.updated` events written, with their outbox positions. */
  events: CommittedEvent[];
  /**
   * False when the statement wrote nothing: the batch changes a conversation (reopens it, an agent joins)
   * and must run again with its locks taken first (`lockedFirst`).
   */
  proceeded: boolean;
}

/** The send path: one statement per batch (repositories/send-statements.ts says what it does). */
export class SendRepository {
  constructor(private readonly kind: Database['kind'] = 'postgres') {}

  /**
   * Every item of a batch is stored with the batch's `createdAt` (also its event's occurredAt); its events
   * carry a lease of `leaseMs` when this process publishes them itself (Outbox.publishOnCommit).
   */
  async sendBatch(
    executor: Executor,
    items: readonly BatchItem[],
    createdAt: Date,
    leaseMs?: number,
    lockedFirst = false,
  ): Promise<BatchResult> {
    const [row] = await queryPreparedDocument<{
      proceeded: boolean;
      verdicts: [number, Verdict, number | null, MessageRow['senderType'], boolean][];
      originals: [number, StoredMessageJson][];
      audience: [string, string][];
      events: [number | string, string, string][];
      envelopes: string | null;
    }>(this.kind, executor, 'chat_send_batch', SEND_BATCH_SQL, {
      created_at: createdAt.toISOString(),
      event_type: ChatEvents.messageCreated,
      updated_event_type: ChatEvents.conversationUpdated,
      lease_ms: leaseMs ?? null,
      // PGlite runs one statement at a time: nothing can commit between the snapshot and the locks.
      locked_first: lockedFirst || this.kind === 'pglite',
      items: items.map((item, idx) => ({
        idx,
        id: item.id,
        conversation_id: item.conversationId,
        sender_id: item.senderId,
        origin: item.origin,
        staff: item.staff,
        internal_type: item.internalType,
        type: item.type,
        body: item.body,
        attachments: item.attachments,
        shown_attachments: item.shownAttachments,
        client_message_id: item.clientMessageId,
        preview: item.preview,
        event_id: item.eventId,
        update_event_id: item.updateEventId,
        actor: item.actor,
      })),
    });
    const audience = new Map<string, string[]>();
    for (const [conversationId, userId] of row?.audience ?? []) {
      audience.set(conversationId, [...(audience.get(conversationId) ?? []), userId]);
    }
    return {
      verdicts: (row?.verdicts ?? []).map(([, verdict, seq, senderType, joins]) => ({
        verdict,
        seq,
        senderType,
        joins,
      })),
      originals: new Map((row?.originals ?? []).map(([idx, original]) => [idx, fromStoredJson(original)])),
      audience,
      events: committedEvents(row?.events ?? [], row?.envelopes ?? null),
      proceeded: row?.proceeded ?? false,
    };
  }
}

/** A message row as PostgreSQL renders it in JSON: snake_case keys, timestamps as text. */
interface StoredMessageJson {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  sender_type: MessageRow['senderType'];
  type: MessageRow['type'];
  body: string;
  attachments: StoredAttachment[];
  client_message_id: string | null;
  created_at: string;
  edited_at: string | null;
  deleted_at: string | null;
  revision: number | null;
}

function fromStoredJson(row: StoredMessageJson): MessageRow {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    seq: row.seq,
    senderId: row.sender_id,
    senderType: row.sender_type,
    type: row.type,
    body: row.body,
    attachments: row.attachments,
    clientMessageId: row.client_message_id,
    createdAt: new Date(row.created_at),
    editedAt: row.edited_at === null ? null : new Date(row.edited_at),
    deletedAt: row.deleted_at === null ? null : new Date(row.deleted_at),
    revision: row.revision,
  };
}

/** The statement's events (position, id, type, in outbox order) with their envelopes' JSON, line by line. */
function committedEvents(
  events: [number | string, string, string][],
  envelopes: string | null,
): CommittedEvent[] {
  const lines = envelopes === null ? [] : envelopes.split('\n');
  if (lines.length !== events.length)
    throw new Error(`the send statement returned ${events.length} events but ${lines.length} envelopes`);
  return events.map(([position, id, type], at) => ({
    position: Number(position),
    envelope: { id, type, json: lines[at]! },
  }));
}
