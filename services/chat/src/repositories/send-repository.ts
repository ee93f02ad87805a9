import type { EventEnvelope } from '@parley/kernel';
import { type Executor, queryRows } from '@parley/store';
import { type SQL, sql } from 'drizzle-orm';
import type { LastMessage, StoredAttachment } from '../domain/types.ts';
import type { ConversationRow, MemberRole } from './conversations-repository.ts';
import type { MessageRow } from './messages-repository.ts';

/** What a send batch needs to know before it may assign seqs. */
export interface SendLookup {
  conversationIds: readonly string[];
  /** (sender, clientMessageId) pairs: their stored originals answer replays. */
  keys: readonly { senderId: string; clientMessageId: string }[];
  /** Users writing into conversations; the ones in direct conversations are checked against blocks. */
  writers: readonly { conversationId: string; senderId: string }[];
}

export interface LockedConversation {
  id: string;
  type: ConversationRow['type'];
  botId: string | null;
  handledBy: ConversationRow['handledBy'];
  lastSeq: number;
  status: ConversationRow['status'];
}

export interface SendContext {
  /** Locked FOR UPDATE until the batch commits; absent ids do not exist. */
  conversations: Map<string, LockedConversation>;
  /** conversationId → userId → role. */
  members: Map<string, Map<string, MemberRole>>;
  stored: MessageRow[];
  /** `conversationId userId` of writers blocked in a direct conversation (either direction). */
  blocked: Set<string>;
}

export interface SendWrites {
  messages: readonly Omit<MessageRow, 'editedAt' | 'deletedAt' | 'revision'>[];
  counters: readonly {
    id: string;
    lastSeq: number;
    lastMessage: LastMessage;
    status: ConversationRow['status'];
  }[];
  links: readonly { attachmentId: string; messageId: string; conversationId: string }[];
  /** Staff who start working a bot or support conversation join it as agents. */
  joins: readonly { conversationId: string; userId: string }[];
  events: readonly EventEnvelope[];
}

// The send path is the hottest code in Parley: its two statements are plain SQL with one JSON parameter
// each, so a batch costs two round trips (plus BEGIN and COMMIT) and no query building per send.
const LOCK_AND_LOAD = sql.raw(`,
  locked as (
    select c.id, c.type, c.bot_id, c.handled_by, c.last_seq, c.status
    from chat.conversations c
    where c.id in (select jsonb_array_elements_text(doc -> 'conversationIds') from input)
    order by c.id
    for update
  )
  select
    (select coalesce(json_agg(l), '[]'::json) from locked l) as conversations,
    (select coalesce(json_agg(json_build_array(m.conversation_id, m.user_id, m.role)), '[]'::json)
       from chat.members m
       where m.conversation_id in (select jsonb_array_elements_text(doc -> 'conversationIds') from input))
      as members,
    (select coalesce(json_agg(s), '[]'::json)
       from chat.messages s
       join jsonb_to_recordset((select doc -> 'keys' from input)) as k(s text, c text)
         on s.sender_id = k.s and s.client_message_id = k.c) as stored,
    (select coalesce(json_agg(distinct w.c || ' ' || w.s), '[]'::json)
       from jsonb_to_recordset((select doc -> 'writers' from input)) as w(c text, s text)
       join chat.conversations dc on dc.id = w.c and dc.type = 'direct'
       join chat.members o on o.conversation_id = w.c and o.user_id <> w.s
       join chat.blocks b
         on (b.blocker_id = w.s and b.blocked_id = o.user_id) or (b.blocker_id = o.user_id and b.blocked_id = w.s))
      as blocked
  from input`);

const WRITE = sql.raw(`,
  joined as (
    insert into chat.members (conversation_id, user_id, role)
    select j.c, j.u, 'agent' from jsonb_to_recordset((select doc -> 'joins' from input)) as j(c text, u text)
    on conflict do nothing
  ),
  inserted as (
    insert into chat.messages
      (id, conversation_id, seq, sender_id, sender_type, type, body, attachments, client_message_id, created_at)
    select m.id, m.conversation_id, m.seq, m.sender_id, m.sender_type, m.type, m.body, m.attachments,
      m.client_message_id, m.created_at
    from jsonb_to_recordset((select doc -> 'messages' from input)) as m(id text, conversation_id text,
      seq integer, sender_id text, sender_type text, type text, body text, attachments jsonb,
      client_message_id text, created_at timestamptz)
  ),
  counters as (
    update chat.conversations c set last_seq = v.last_seq, last_message = v.last_message, status = v.status,
      last_activity_at = now(), updated_at = now()
    from jsonb_to_recordset((select doc -> 'counters' from input))
      as v(id text, last_seq integer, last_message jsonb, status text)
    where c.id = v.id
  ),
  links as (
    insert into chat.message_attachments (attachment_id, message_id, conversation_id)
    select l.a, l.m, l.c from jsonb_to_recordset((select doc -> 'links' from input)) as l(a text, m text, c text)
    on conflict do nothing
  ),
  events as (
    insert into chat.outbox (event_id, type, envelope)
    select e.id, e.type, e.envelope
    from jsonb_to_recordset((select doc -> 'events' from input)) as e(id text, type text, envelope jsonb)
  )
  select m.conversation_id, json_agg(m.user_id) as user_ids
  from chat.members m
  where m.conversation_id in (select c ->> 'id' from input, jsonb_array_elements(doc -> 'counters') c)
  group by m.conversation_id`);

/** A statement over one JSON document, the batch: `input.doc` in the statement's text. */
function withDocument(statement: SQL, document: unknown): SQL {
  return sql`with input as (select ${JSON.stringify(document)}::jsonb as doc)${statement}`;
}

/** The two statements of a send batch (see domain/send-batch.ts for the protocol around them). */
export class SendRepository {
  /**
   * Locks the batch's conversations in id order (batches touching the same conversations can never
   * deadlock; the locks hold until commit, which is what makes seq gap-free under any concurrency and
   * across processes) and reads, in the same round trip, their members, the stored originals of the
   * batch's client keys and which writers are blocked.
   */
  async lockAndLoad(executor: Executor, lookup: SendLookup): Promise<SendContext> {
    const [row] = await queryRows<{
      conversations: {
        id: string;
        type: LockedConversation['type'];
        bot_id: string | null;
        handled_by: LockedConversation['handledBy'];
        last_seq: number;
        status: LockedConversation['status'];
      }[];
      members: [string, string, MemberRole][];
      stored: StoredMessageJson[];
      blocked: string[];
    }>(
      executor,
      withDocument(LOCK_AND_LOAD, {
        conversationIds: lookup.conversationIds,
        keys: lookup.keys.map((key) => ({ s: key.senderId, c: key.clientMessageId })),
        writers: lookup.writers.map((writer) => ({ c: writer.conversationId, s: writer.senderId })),
      }),
    );
    const conversations = new Map<string, LockedConversation>();
    for (const c of row?.conversations ?? []) {
      conversations.set(c.id, {
        id: c.id,
        type: c.type,
        botId: c.bot_id,
        handledBy: c.handled_by,
        lastSeq: c.last_seq,
        status: c.status,
      });
    }
    const members = new Map<string, Map<string, MemberRole>>();
    for (const [conversationId, userId, role] of row?.members ?? []) {
      const roles = members.get(conversationId) ?? new Map<string, MemberRole>();
      roles.set(userId, role);
      members.set(conversationId, roles);
    }
    return {
      conversations,
      members,
      stored: (row?.stored ?? []).map(fromStoredJson),
      blocked: new Set(row?.blocked ?? []),
    };
  }

  /**
   * Writes a batch in one statement: agents joining, the messages, the conversations' counters, the
   * attachment links and the outbox events. Returns the members of every conversation written to, read
   * after the locks were taken (for fan-out).
   */
  async write(executor: Executor, writes: SendWrites): Promise<Map<string, string[]>> {
    const rows = await queryRows<{ conversation_id: string; user_ids: string[] }>(
      executor,
      withDocument(WRITE, {
        joins: writes.joins.map((join) => ({ c: join.conversationId, u: join.userId })),
        messages: writes.messages.map((m) => ({
          id: m.id,
          conversation_id: m.conversationId,
          seq: m.seq,
          sender_id: m.senderId,
          sender_type: m.senderType,
          type: m.type,
          body: m.body,
          attachments: m.attachments,
          client_message_id: m.clientMessageId,
          created_at: m.createdAt.toISOString(),
        })),
        counters: writes.counters.map((c) => ({
          id: c.id,
          last_seq: c.lastSeq,
          last_message: c.lastMessage,
          status: c.status,
        })),
        links: writes.links.map((l) => ({ a: l.attachmentId, m: l.messageId, c: l.conversationId })),
        events: writes.events.map((e) => ({ id: e.id, type: e.type, envelope: e })),
      }),
    );
    return new Map(rows.map((row) => [row.conversation_id, row.user_ids]));
  }
}

/** A message row as `json_agg` renders it: snake_case keys, timestamps as text. */
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
