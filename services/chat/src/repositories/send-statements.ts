/**
 * A whole send batch in one statement, one round trip, with the batch as one JSON document ($1). It runs
 * as its own transaction (no BEGIN/COMMIT round trips), and the conversations' row locks are held only
 * while it runs.
 *
 * 1. `locked`: the batch's conversations, locked FOR UPDATE in id order, so batches touching the same
 *    conversations never deadlock; the lock re-reads each row, so last_seq and status are the latest.
 * 2. `checked` / `decided`: every send's verdict, in the order REST applies the same checks. A replay of
 *    a message stored in the same conversation gets the original whatever happened since (a retry must
 *    never fail once its send committed); a client key repeated within the batch gets the first one's
 *    answer; an outsider learns nothing (hidden); a closed conversation refuses; a block forbids. Staff
 *    may write in bot and support conversations without being members (domain/access.ts staffMayWork)
 *    and then join them as agents.
 * 3. `numbered`: the writes get the next seqs of their conversation, under the lock: gap-free under any
 *    concurrency and across processes.
 * 4. Members (agents joining), messages, counters (a user's message reopens a resolved conversation),
 *    attachment links and outbox events (seq, senderType and the conversation filled in) are written.
 *
 * Returns each send's verdict (with seq and sender type), the stored originals of replays, and the members
 * of the conversations written to (for fan-out).
 */
export const SEND_BATCH_SQL = `
  with input as (select $1::jsonb as doc),
  items as (
    select * from jsonb_to_recordset((select doc -> 'items' from input)) as i(
      idx integer, id text, conversation_id text, sender_id text, origin text, staff boolean,
      internal_type text, type text, body text, attachments jsonb, client_message_id text,
      created_at timestamptz, last_message jsonb, event_id text, event_type text, envelope jsonb)
  ),
  locked as (
    select c.id, c.type, c.bot_id, c.handled_by, c.last_seq, c.status
    from chat.conversations c
    where c.id = any (array(select distinct conversation_id from items))
    order by c.id
    for update
  ),
  checked as (
    select i.*, l.id is not null as found, l.type as conversation_type, l.status as conversation_status,
      m.role, o.original,
      o.original ->> 'conversation_id' = i.conversation_id as stored_here,
      case when i.client_message_id is null then 1
        else row_number() over (partition by i.sender_id, i.client_message_id order by i.idx) end as key_rank,
      exists (
        select 1 from chat.members other
        join chat.blocks b
          on (b.blocker_id = i.sender_id and b.blocked_id = other.user_id)
          or (b.blocker_id = other.user_id and b.blocked_id = i.sender_id)
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
        when c.original is not null then 'replay'
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
  numbered as (
    select d.*, (l.last_seq + row_number() over (partition by d.conversation_id order by d.idx))::integer as seq
    from decided d
    join locked l on l.id = d.conversation_id
    where d.verdict = 'write'
  ),
  counters as (
    select l.id, l.type, l.bot_id, l.handled_by, max(n.seq) as last_seq,
      case when l.status = 'resolved' and bool_or(n.sender_type = 'user') then 'open' else l.status end
        as status
    from numbered n
    join locked l on l.id = n.conversation_id
    group by l.id, l.type, l.bot_id, l.handled_by, l.status
  ),
  joined as (
    insert into chat.members (conversation_id, user_id, role)
    select distinct n.conversation_id, n.sender_id, 'agent' from numbered n where n.joins
    on conflict do nothing
  ),
  inserted as (
    insert into chat.messages
      (id, conversation_id, seq, sender_id, sender_type, type, body, attachments, client_message_id, created_at)
    select n.id, n.conversation_id, n.seq, n.sender_id, n.sender_type, n.type, n.body, n.attachments,
      n.client_message_id, n.created_at
    from numbered n
  ),
  updated as (
    update chat.conversations c
    set last_seq = k.last_seq, status = k.status, last_activity_at = now(), updated_at = now(),
      last_message = (
        select jsonb_set(n.last_message, '{seq}', to_jsonb(n.seq))
        from numbered n where n.conversation_id = k.id order by n.seq desc limit 1)
    from counters k
    where c.id = k.id
  ),
  links as (
    insert into chat.message_attachments (attachment_id, message_id, conversation_id)
    select a ->> 'id', n.id, n.conversation_id from numbered n, jsonb_array_elements(n.attachments) a
    on conflict do nothing
  ),
  events as (
    insert into chat.outbox (event_id, type, envelope)
    select n.event_id, n.event_type,
      jsonb_set(jsonb_set(jsonb_set(n.envelope,
        '{data,message,seq}', to_jsonb(n.seq)),
        '{data,message,senderType}', to_jsonb(n.sender_type)),
        '{data,conversation}', jsonb_build_object(
          'id', k.id, 'type', k.type, 'status', k.status, 'handledBy', k.handled_by)
          || case when k.bot_id is null then '{}'::jsonb else jsonb_build_object('botId', k.bot_id) end)
    from numbered n
    join counters k on k.id = n.conversation_id
    -- Outbox positions follow the batch, so each conversation's events leave in seq order.
    order by n.idx
  )
  select
    (select json_agg(json_build_array(d.idx, d.verdict, n.seq, d.sender_type, d.joins) order by d.idx)
       from decided d left join numbered n on n.idx = d.idx) as verdicts,
    (select coalesce(json_agg(json_build_array(d.idx, d.original)), '[]'::json)
       from decided d where d.verdict = 'replay') as originals,
    (select coalesce(json_agg(json_build_array(m.conversation_id, m.user_id)), '[]'::json)
       from chat.members m
       where m.conversation_id = any (array(select distinct conversation_id from numbered))) as audience`;
