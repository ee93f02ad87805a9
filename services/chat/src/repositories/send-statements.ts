/**
 * A whole send batch in one statement, one round trip, with the batch as one JSON document ($1) that
 * carries each send's fields once: the conversation's lastMessage and the event envelope are built here,
 * in the shapes of mappers.ts toLastMessage / toMessage and kernel's createEvent (send-batch.test.ts pins
 * them to those). Building them in JS and sending them along cost ~20% of the closed-loop send rate. It runs
 * as its own transaction (no BEGIN/COMMIT round trips), and the conversations' row locks are held only
 * while it runs.
 *
 * 1. `locked`: the batch's conversations, locked FOR UPDATE in id order, so batches touching the same
 *    conversations never deadlock; the lock re-reads each row, so last_seq and status are the latest.
 * 2. `checked` / `decided`: every send's verdict, in the order REST applies the same checks. A replay of
 *    a message stored in the same conversation gets the original whatever happened since (a retry must
 *    never fail once its send committed); a client key repeated within the batch gets the first one's
 *    answer; an outsider learns nothing (hidden); a closed conversation refuses; a block forbids; a bot may
 *    not write where people handle the conversation (handed_off); a key
 *    the sender already used in another conversation is refused (reused), never answered with that
 *    conversation's message. Staff
 *    may write in bot and support conversations without being members (domain/access.ts staffMayWork)
 *    and then join them as agents.
 * 3. `numbered`: the writes get the next seqs of their conversation, under the lock: gap-free under any
 *    concurrency and across processes; each also learns whether it is its conversation's last write and
 *    the conversation's status after the batch (a user's message reopens a resolved conversation).
 * 4. `gate`: a batch that changes a conversation beyond its messages is run under locks taken first
 *    (send-repository.ts), so that the members its event shows are current.
 * 5. Members (agents joining), messages, counters and lastMessage,
 *    attachment links and outbox events (the `chat.message.created` envelope, as kernel's createEvent
 *    shapes it) are written; a conversation reopened or joined by an agent also gets its
 *    `chat.conversation.updated` event, with the snapshot of mappers.ts toSnapshot.
 *
 * Returns each send's verdict (with seq and sender type), the stored originals of replays, the members
 * of the conversations written to (for fan-out), and the events written with their outbox positions (their
 * envelopes as JSON text, in the same order): with a lease (`lease_ms`; none when it is null) this process
 * publishes them itself once committed.
 */
export const SEND_BATCH_SQL = `
  with input as (select $1::jsonb as doc),
  batch as (
    select doc ->> 'created_at' as created_at_text, (doc ->> 'created_at')::timestamptz as created_at,
      doc ->> 'event_type' as event_type, doc ->> 'updated_event_type' as updated_event_type,
      now() + ((doc ->> 'lease_ms')::integer * interval '1 millisecond') as lease_until,
      (doc ->> 'locked_first')::boolean as locked_first
    from input
  ),
  items as (
    select * from jsonb_to_recordset((select doc -> 'items' from input)) as i(
      idx integer, id text, conversation_id text, sender_id text, origin text, staff boolean,
      internal_type text, type text, body text, attachments jsonb, shown_attachments jsonb,
      client_message_id text, preview text, event_id text, update_event_id text, actor jsonb)
  ),
  locked as (
    select c.id, c.type, c.bot_id, c.handled_by, c.last_seq, c.status, c.title, c.created_by, c.assignee_id,
      c.created_at
    from chat.conversations c
    where c.id = any (array(select distinct conversation_id from items))
    order by c.id
    for update
  ),
  checked as (
    select i.*, l.id is not null as found, l.type as conversation_type, l.status as conversation_status,
      l.handled_by as conversation_handled_by,
      m.role, o.original,
      o.original ->> 'conversation_id' = i.conversation_id as stored_here,
      case when i.client_message_id is null then 1
        else row_number() over (partition by i.sender_id, i.client_message_id order by i.idx) end as key_rank,
      exists (
        select 1 from chat.members other
        join chat.blocks b
          on ((b.blocker_id = i.sender_id and b.blocked_id = other.user_id)
            or (b.blocker_id = other.user_id and b.blocked_id = i.sender_id))
          -- An unblock is kept as a tombstone (schema.ts blocks): it is no block.
          and not b.removed
        where l.type = 'direct' and other.conversation_id = i.conversation_id and other.user_id <> i.sender_id
      ) as blocked
    from items i
    left join locked l on l.id = i.conversation_id
    left join chat.members m on m.conversation_id = i.conversation_id and m.user_id = i.sender_id
    -- One index probe per key even in a generic plan: LIMIT keeps the planner from turning this into a
    -- join that scans every message (the key is unique, so nothing is lost).
    left join lateral (
      select to_jsonb(s) as original from chat.messages s
      where s.sender_id = i.sender_id and s.client_message_id = i.client_message_id
      limit 1
    ) o on true
  ),
  decided as (
    select c.*,
      case
        when c.stored_here then 'replay'
        when c.key_rank > 1 then 'repeat'
        when not c.found then 'hidden'
        when c.origin = 'member' and c.role is null
          and not (c.staff and c.conversation_type in ('support', 'bot')) then 'hidden'
        when c.conversation_status = 'closed' then 'closed'
        when c.origin = 'member' and c.blocked then 'blocked'
        when c.origin = 'internal' and c.internal_type = 'bot'
          and c.conversation_handled_by is distinct from 'bot' then 'handed_off'
        when c.original is not null then 'reused'
        else 'write'
      end as verdict,
      case
        when c.origin <> 'member' then c.internal_type
        when c.role is null or c.role = 'agent' then 'agent'
        else 'user'
      end as sender_type,
      c.origin = 'member' and c.role is null as joins
    from checked c
  ),
  -- Each write with its seq and what its conversation becomes, so the writes below need no joins (the
  -- planner, blind to CTE sizes, would nest loops over them).
  numbered as (
    select w.*, w.written = w.writes as is_last,
      case when w.conversation_status = 'resolved' and w.user_wrote then 'open' else w.conversation_status end
        as status_after
    from (
      select d.*, l.bot_id, l.handled_by,
        (l.last_seq + row_number() over conversation)::integer as seq,
        row_number() over conversation as written,
        count(*) over (partition by d.conversation_id) as writes,
        bool_or(d.sender_type = 'user') over (partition by d.conversation_id) as user_wrote,
        bool_or(d.joins) over (partition by d.conversation_id) as agent_joined
      from decided d
      join locked l on l.id = d.conversation_id
      where d.verdict = 'write'
      window conversation as (partition by d.conversation_id order by d.idx)
    ) w
  ),
  -- The conversations a batch changed beyond their messages (reopened by their user, joined by an agent),
  -- each with its last write: their chat.conversation.updated event follows that write's message event.
  changed as (
    select n.conversation_id as id, n.idx, n.update_event_id, n.status_after, n.seq,
      n.conversation_type, n.bot_id, n.handled_by, l.title, l.created_by, l.assignee_id, l.created_at,
      -- Who changed it: the first write that joined or reopened it. Looked up here, for the rare changed
      -- conversation, rather than as a window over every write (a sort of the whole batch of its own).
      (select w.actor from numbered w
        where w.conversation_id = n.conversation_id
          and (w.joins or (w.sender_type = 'user' and w.conversation_status = 'resolved'))
        order by w.idx limit 1) as actor
    from numbered n
    join locked l on l.id = n.conversation_id
    where n.is_last and (n.status_after <> n.conversation_status or n.agent_joined)
  ),
  -- Whether to write. The member lists read here are the statement's snapshot, taken before it waited for
  -- the locks: a change committed meanwhile (an agent assigned) is not in them. A changed conversation's
  -- event carries its members, so such a batch writes nothing and is run again after its locks were
  -- taken by a statement of their own (locked_first), when the snapshot is taken under them.
  gate as (
    select (select locked_first from batch) or not exists (select 1 from changed) as proceed
  ),
  -- Their members as the statement leaves them: the agents joining here are not visible in chat.members
  -- until it ends.
  changed_members as (
    select m.conversation_id, m.user_id, m.role, m.joined_at
    from chat.members m
    where m.conversation_id = any (array(select id from changed))
    union
    select n.conversation_id, n.sender_id, 'agent', now()
    from numbered n
    where n.joins and n.conversation_id = any (array(select id from changed))
  ),
  joined as (
    insert into chat.members (conversation_id, user_id, role)
    select distinct n.conversation_id, n.sender_id, 'agent' from numbered n
    where n.joins and (select proceed from gate)
    on conflict do nothing
  ),
  inserted as (
    insert into chat.messages
      (id, conversation_id, seq, sender_id, sender_type, type, body, attachments, client_message_id, created_at)
    select n.id, n.conversation_id, n.seq, n.sender_id, n.sender_type, n.type, n.body, n.attachments,
      n.client_message_id, b.created_at
    from numbered n cross join batch b
    where (select proceed from gate)
  ),
  updated as (
    update chat.conversations c
    set last_seq = n.seq, status = n.status_after, last_activity_at = now(), updated_at = now(),
      last_message = jsonb_build_object('id', n.id, 'seq', n.seq, 'senderId', n.sender_id, 'type', n.type,
        'body', coalesce(n.preview, n.body), 'createdAt', b.created_at_text, 'deleted', false)
    from numbered n
    cross join batch b
    where n.is_last and c.id = n.conversation_id and (select proceed from gate)
  ),
  links as (
    insert into chat.message_attachments (attachment_id, message_id, conversation_id)
    select a ->> 'id', n.id, n.conversation_id from numbered n, jsonb_array_elements(n.attachments) a
    where (select proceed from gate)
    on conflict do nothing
  ),
  events as (
    insert into chat.outbox (event_id, type, lease_until, envelope)
    select e.event_id, e.type, b.lease_until, e.envelope
    from (
      select n.idx, 0 as after_message, n.event_id, b.event_type as type, jsonb_build_object(
        'id', n.event_id, 'type', b.event_type, 'version', 1, 'occurredAt', b.created_at_text,
        'actor', n.actor, 'correlationId', null,
        'data', jsonb_build_object(
          'message', jsonb_build_object('id', n.id, 'conversationId', n.conversation_id, 'seq', n.seq,
            'senderId', n.sender_id, 'senderType', n.sender_type, 'type', n.type, 'body', n.body,
            'attachments', n.shown_attachments, 'createdAt', b.created_at_text)
            || case when n.client_message_id is null then '{}'::jsonb
              else jsonb_build_object('clientMessageId', n.client_message_id) end,
          'conversation', jsonb_build_object('id', n.conversation_id, 'type', n.conversation_type,
            'status', n.status_after, 'handledBy', n.handled_by)
            || case when n.bot_id is null then '{}'::jsonb else jsonb_build_object('botId', n.bot_id) end))
        as envelope
      from numbered n
      cross join batch b
      union all
      -- The envelope of mappers.ts toSnapshot, timestamps in JavaScript's ISO form.
      select c.idx, 1, c.update_event_id, b.updated_event_type, jsonb_build_object(
        'id', c.update_event_id, 'type', b.updated_event_type, 'version', 1, 'occurredAt', b.created_at_text,
        'actor', c.actor, 'correlationId', null,
        'data', jsonb_build_object('conversation', jsonb_build_object(
          'id', c.id, 'type', c.conversation_type, 'title', c.title, 'createdBy', c.created_by,
          'members', (
            select jsonb_agg(jsonb_build_object('userId', m.user_id, 'role', m.role)
              order by m.joined_at, m.user_id)
            from changed_members m where m.conversation_id = c.id),
          'status', c.status_after, 'handledBy', c.handled_by, 'lastSeq', c.seq,
          'createdAt', to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'updatedAt', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
          || case when c.bot_id is null then '{}'::jsonb else jsonb_build_object('botId', c.bot_id) end
          || case when c.assignee_id is null then '{}'::jsonb
            else jsonb_build_object('assigneeId', c.assignee_id) end))
      from changed c
      cross join batch b
    ) e
    cross join batch b
    where (select proceed from gate)
    -- Outbox positions follow the batch, so each conversation's events leave in seq order.
    order by e.idx, e.after_message
    returning position, event_id, type, envelope
  )
  select (select proceed from gate) as proceeded,
    (select json_agg(json_build_array(d.idx, d.verdict, n.seq, d.sender_type, d.joins) order by d.idx)
       from decided d left join numbered n on n.idx = d.idx) as verdicts,
    (select coalesce(json_agg(json_build_array(d.idx, d.original)), '[]'::json)
       from decided d where d.verdict = 'replay') as originals,
    (select coalesce(json_agg(json_build_array(m.conversation_id, m.user_id)), '[]'::json)
       from chat.members m
       where m.conversation_id = any (array(select distinct conversation_id from numbered))) as audience,
    (select coalesce(json_agg(json_build_array(e.position, e.event_id, e.type) order by e.position), '[]'::json)
       from events e) as events,
    -- The envelopes as JSON text, one per line (jsonb's text has no raw newline): published as they are,
    -- with no parsing here and no serializing again in JavaScript.
    (select string_agg(e.envelope::text, chr(10) order by e.position) from events e) as envelopes`;
