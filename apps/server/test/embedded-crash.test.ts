import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import type { ParleyProcess } from '../src/cluster/parley-process.ts';
import { Leftovers } from './support/leftovers.ts';
import { call, history, type MessageView, register, type Session } from './support/parley-client.ts';
import { EMBEDDED, openDirectOnceKnown, startSingleProcess } from './support/single-process.ts';

const LANES = 4;
// Generous: a send the dead process cannot answer fails at the disconnect, not after this.
const ACK_MS = 15_000;

interface SendAck {
  ok: boolean;
  message?: MessageView;
  error?: { code: string };
}

interface SyncAck {
  ok: boolean;
  messages: MessageView[];
  more: Record<string, boolean>;
}

interface ConversationView {
  lastSeq: number;
  unreadCount: number;
  lastMessage?: { id?: string; seq?: number; body?: string } | null;
}

const bodyOf = (clientMessageId: string) => `body of ${clientMessageId}`;

async function send(client: Socket, conversationId: string, clientMessageId: string): Promise<SendAck> {
  return (await client.timeout(ACK_MS).emitWithAck('message:send', {
    conversationId,
    body: bodyOf(clientMessageId),
    clientMessageId,
  })) as SendAck;
}

/** A send whose answer cannot come any more (the socket is gone) is unanswered at once, not after ACK_MS. */
async function sendUntilGone(
  client: Socket,
  conversationId: string,
  clientMessageId: string,
): Promise<SendAck | undefined> {
  if (client.disconnected) return undefined;
  let onGone = () => {};
  const gone = new Promise<undefined>((resolve) => {
    onGone = () => resolve(undefined);
    client.once('disconnect', onGone);
  });
  try {
    return await Promise.race([send(client, conversationId, clientMessageId).catch(() => undefined), gone]);
  } finally {
    client.off('disconnect', onGone);
  }
}

async function syncFromZero(client: Socket, conversationId: string): Promise<MessageView[]> {
  const ack = (await client
    .timeout(10_000)
    .emitWithAck('sync', { conversations: { [conversationId]: 0 } })) as SyncAck;
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.deepEqual(ack.more, {}, 'the test stays under the sync cap');
  return ack.messages.filter((message) => message.conversationId === conversationId);
}

describe('npm start on embedded PGlite, SIGKILLed under traffic (no message lost or doubled)', () => {
  const leftovers = new Leftovers();

  const start = async (dataDir: string) => {
    const started = await startSingleProcess(EMBEDDED, dataDir).catch((error: unknown) => {
      throw new Error(`the restart on the same data dir did not come up: ${String(error)}`);
    });
    leftovers.process(started.parley);
    return started;
  };
  const open = (base: string, session: Session) => leftovers.socket(base, session.accessToken);
  const newDataDir = () => leftovers.dataDir('parley-embedded-crash-');

  after(() => leftovers.cleanUp());

  /**
   * Sends from `LANES` lanes at once, each waiting for its ack before the next, and SIGKILLs the process
   * when `killAfter` acks are in; the lanes go on sending until the socket is gone, so sends are in flight
   * when it dies. Returns what was acked and every clientMessageId that was sent.
   */
  async function sendAndKill(
    parley: ParleyProcess,
    client: Socket,
    conversationId: string,
    round: string,
    killAfter: number,
  ): Promise<{ acked: Map<string, MessageView>; sent: string[] }> {
    const acked = new Map<string, MessageView>();
    const sent: string[] = [];
    let killed = false;
    const lane = async (index: number) => {
      for (let i = 0; !client.disconnected; i++) {
        const clientMessageId = `${round}-${index}-${i}`;
        sent.push(clientMessageId);
        const ack = await sendUntilGone(client, conversationId, clientMessageId);
        if (!ack) return;
        assert.equal(ack.ok, true, JSON.stringify(ack));
        acked.set(clientMessageId, ack.message as MessageView);
        if (acked.size >= killAfter && !killed) {
          killed = true;
          parley.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: LANES }, (_, index) => lane(index)));
    await parley.exited;
    return { acked, sent };
  }

  /** After the restart: what survived, then the client's retries of what it never heard back about. */
  async function recover(
    client: Socket,
    conversationId: string,
    acked: Map<string, MessageView>,
    sent: string[],
    expectedBefore: number,
  ): Promise<{ stored: MessageView[]; retried: number; storedWithoutAck: number }> {
    const survived = await syncFromZero(client, conversationId);
    assert.deepEqual(
      survived.map((message) => message.seq),
      survived.map((_, index) => index + 1),
      'after the crash, seq is 1..N with no gap or repeat',
    );
    const byClientId = new Map(survived.map((message) => [message.clientMessageId, message]));
    assert.equal(byClientId.size, survived.length, 'no clientMessageId stored twice');
    for (const [clientMessageId, message] of acked) {
      const stored = byClientId.get(clientMessageId);
      assert.ok(stored, `acked ${clientMessageId} survived the crash`);
      assert.equal(stored.id, message.id);
      assert.equal(stored.seq, message.seq);
      assert.equal(stored.body, bodyOf(clientMessageId));
    }
    assert.ok(survived.length >= expectedBefore + acked.size);

    const unacked = sent.filter((clientMessageId) => !acked.has(clientMessageId));
    let storedWithoutAck = 0;
    for (const clientMessageId of unacked) {
      const ack = await send(client, conversationId, clientMessageId);
      assert.equal(ack.ok, true, `retry of ${clientMessageId}: ${JSON.stringify(ack)}`);
      const original = byClientId.get(clientMessageId);
      if (original) {
        storedWithoutAck++;
        assert.equal(ack.message?.id, original.id, `the retry of stored ${clientMessageId} is the original`);
        assert.equal(ack.message?.seq, original.seq);
      } else {
        assert.ok((ack.message?.seq ?? 0) > survived.length, `${clientMessageId} stored anew after the rest`);
      }
    }
    return { stored: survived, retried: unacked.length, storedWithoutAck };
  }

  async function assertConsistent(
    base: string,
    clients: { alice: Socket; bob: Socket },
    sessions: { alice: Session; bob: Session },
    conversationId: string,
    everySent: Set<string>,
  ): Promise<void> {
    const seen = await syncFromZero(clients.alice, conversationId);
    assert.deepEqual(
      seen.map((message) => message.seq),
      seen.map((_, index) => index + 1),
      'seq is 1..N with no gap or repeat',
    );
    assert.deepEqual(
      seen.map((message) => message.clientMessageId).sort(),
      [...everySent].sort(),
      'every clientMessageId the client sent is stored exactly once',
    );
    assert.deepEqual(await syncFromZero(clients.bob, conversationId), seen, "the other member's sync agrees");
    assert.deepEqual(
      (await history(base, sessions.alice.accessToken, conversationId)).map((message) => message.id),
      seen.map((message) => message.id),
      'REST history agrees with sync',
    );
    const last = seen.at(-1) as MessageView;
    for (const [who, unread] of [
      ['alice', 0],
      ['bob', seen.length],
    ] as const) {
      const { status, body } = await call<ConversationView>(
        base,
        'GET',
        `/api/v1/conversations/${conversationId}`,
        { token: sessions[who].accessToken },
      );
      assert.equal(status, 200);
      assert.equal(body.lastSeq, seen.length, `${who}'s lastSeq`);
      assert.equal(body.lastMessage?.id, last.id, `${who}'s lastMessage is the last stored`);
      assert.equal(body.unreadCount, unread, `${who}'s unreadCount`);
    }
  }

  it('keeps every acked message once and takes the retries once, across two SIGKILLs in a row', async (t) => {
    const dataDir = await newDataDir();
    let { parley, base } = await start(dataDir);
    const sessions = {
      alice: await register(base, 'alice@example.com'),
      bob: await register(base, 'bob@example.com'),
    };
    const conversationId = await openDirectOnceKnown(base, sessions.alice, sessions.bob);
    let clients = { alice: await open(base, sessions.alice), bob: await open(base, sessions.bob) };
    const everySent = new Set<string>();
    let storedBefore = 0;

    for (const [round, killAfter] of [
      ['first', 25],
      ['second', 15],
    ] as const) {
      const { acked, sent } = await sendAndKill(parley, clients.alice, conversationId, round, killAfter);
      for (const clientMessageId of sent) everySent.add(clientMessageId);
      for (const client of Object.values(clients)) client.disconnect();

      // The same data dir, as the next `npm start` would find it.
      ({ parley, base } = await start(dataDir));
      clients = { alice: await open(base, sessions.alice), bob: await open(base, sessions.bob) };
      const { stored, retried, storedWithoutAck } = await recover(
        clients.alice,
        conversationId,
        acked,
        sent,
        storedBefore,
      );
      t.diagnostic(
        `${round} kill: ${acked.size} acked, ${retried} unacked retried, ${storedWithoutAck} of them stored before the kill, ${stored.length} stored in all after it`,
      );
      storedBefore = everySent.size;
      await assertConsistent(base, clients, sessions, conversationId, everySent);
    }
    assert.equal((await parley.stop(15_000)) ?? 0, 0);
  });
});
