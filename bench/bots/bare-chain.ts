// The floor of bench/bots.ts's first figure: the fewest steps any implementation of the same promises takes
// on this machine, in the barest code, so that what Parley adds can be read against what the hops cost.
// A send is stored with its event in one statement and acknowledged; then one write claims the reply (what
// keeps it to one across processes), the provider is asked over a pooled keep-alive connection, and its
// first token goes straight to the sender's socket. No checks, no rooms, no coalescing, no SDK.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '@parley/store';
import { sql } from 'drizzle-orm';
import { Server } from 'socket.io';
import { Agent, request } from 'undici';

export interface BareChain {
  url: string;
  close(): Promise<void>;
}

interface SendPayload {
  conversationId: string;
  body: string;
  clientMessageId: string;
}

export async function startBareChain(database: Database, providerBaseUrl: string): Promise<BareChain> {
  await database.db.execute(sql`create table bare_messages (id text primary key,
    conversation_id text not null, body text not null, client_message_id text not null,
    created_at timestamptz not null default now())`);
  await database.db.execute(sql`create table bare_outbox (position bigserial primary key,
    envelope jsonb not null)`);
  await database.db.execute(sql`create table bare_claims (trigger_id text primary key)`);
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const httpServer = createServer();
  const io = new Server(httpServer, { transports: ['websocket'] });
  let next = 0;

  const reply = async (emit: (event: string, data: unknown) => void, id: string, payload: SendPayload) => {
    await database.db.execute(
      sql`insert into bare_claims (trigger_id) values (${id}) on conflict do nothing`,
    );
    const answer = await request(`${providerBaseUrl}/chat/completions`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
      body: JSON.stringify({
        model: 'bench-model',
        stream: true,
        messages: [{ role: 'user', content: payload.body }],
      }),
    });
    const draftId = `reply:${id}`;
    let text = '';
    let pending = '';
    for await (const chunk of answer.body) {
      pending += chunk.toString();
      let end = pending.indexOf('\n\n');
      while (end >= 0) {
        const line = pending.slice(0, end).trim();
        pending = pending.slice(end + 2);
        end = pending.indexOf('\n\n');
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const content = JSON.parse(line.slice(6)).choices?.[0]?.delta?.content as string | undefined;
        if (!content) continue;
        emit('message:delta', {
          conversationId: payload.conversationId,
          draftId,
          delta: content,
          index: text.length,
        });
        text += content;
      }
    }
    emit('message:new', {
      id: `${id}-reply`,
      conversationId: payload.conversationId,
      body: text,
      clientMessageId: draftId,
    });
  };

  io.on('connection', (socket) => {
    socket.on('message:send', (payload: SendPayload, ack: (answer: unknown) => void) => {
      const id = `bare${++next}`;
      database.db
        .execute(
          sql`with stored as (insert into bare_messages (id, conversation_id, body, client_message_id)
            values (${id}, ${payload.conversationId}, ${payload.body}, ${payload.clientMessageId}) returning id)
            insert into bare_outbox (envelope) select jsonb_build_object('messageId', id) from stored`,
        )
        .then(() => {
          ack({ ok: true, message: { id, conversationId: payload.conversationId, body: payload.body } });
          return reply((event, data) => socket.emit(event, data), id, payload);
        })
        .catch((error: unknown) =>
          ack({ ok: false, error: { code: 'bare_failed', message: String(error) } }),
        );
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await agent.close();
    },
  };
}
