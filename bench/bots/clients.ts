// The load process of bench/bots.ts: the local streaming test provider and every Socket.IO client, so the
// client-side and provider-side timestamps come from one clock and the Parley process is measured alone.

import { OpenAiTestServer } from '@parley/bots/testing';
import type {
  ClientToServerEvents,
  Message,
  MessageDeltaEvent,
  ServerToClientEvents,
} from '@parley/contracts';
import { io, type Socket } from 'socket.io-client';
import type {
  BurstResult,
  ClientCommand,
  ClientReply,
  ClientUser,
  LatencyResult,
  Percentiles,
} from './protocol.ts';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface Client {
  user: ClientUser;
  socket: ClientSocket;
  /** draftId → arrival time of its first delta, and every delta in arrival order. */
  firstDelta: Map<string, number>;
  deltas: Map<string, MessageDeltaEvent[]>;
  finals: Map<string, Message>;
}

let provider: OpenAiTestServer | undefined;
const clients: Client[] = [];
let sequence = 0;

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function connect(url: string, users: ClientUser[]): Promise<void> {
  await Promise.all(
    users.map(async (user) => {
      const socket: ClientSocket = io(url, {
        auth: { token: user.token },
        transports: ['websocket'],
        reconnection: false,
      });
      const client: Client = { user, socket, firstDelta: new Map(), deltas: new Map(), finals: new Map() };
      socket.on('message:delta', (event) => {
        const now = performance.now();
        if (!client.firstDelta.has(event.draftId)) client.firstDelta.set(event.draftId, now);
        const list = client.deltas.get(event.draftId) ?? [];
        list.push(event);
        client.deltas.set(event.draftId, list);
      });
      socket.on('message:new', (message) => {
        if (message.clientMessageId) client.finals.set(message.clientMessageId, message);
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      clients.push(client);
    }),
  );
}

async function send(
  client: Client,
  body: string,
): Promise<{ message: Message; sentAt: number; ackAt: number }> {
  const sentAt = performance.now();
  const ack = await client.socket.emitWithAck('message:send', {
    conversationId: client.user.conversationId,
    body,
    clientMessageId: `bench-${++sequence}`,
  });
  if (!ack.ok) throw new Error(`send refused: ${ack.error.code}`);
  return { message: ack.message, sentAt, ackAt: performance.now() };
}

async function latency(
  samples: number,
  warmup: number,
  firstTokenDelayMs: number,
  thinkMs: number,
): Promise<LatencyResult> {
  const peer = provider!;
  peer.respond({
    kind: 'reply',
    tokens: ['Hello', ' from', ' the', ' bench', '.'],
    firstTokenDelayMs,
    tokenDelayMs: 2,
  });
  const added: number[] = [];
  const firstDelta: number[] = [];
  const providerFirstToken: number[] = [];
  const beforeProvider: number[] = [];
  const tokenPath: number[] = [];
  const acks: number[] = [];
  for (let i = 0; i < warmup + samples; i++) {
    const client = clients[i % clients.length]!;
    const body = `latency question ${i} ${Math.random()}`;
    const { message, sentAt, ackAt } = await send(client, body);
    const draftId = `reply:${message.id}`;
    await until(() => client.finals.has(draftId), 10_000);
    const request = peer.requests.findLast((r) => r.body.messages?.at(-1)?.content === body);
    const deltaAt = client.firstDelta.get(draftId);
    if (!request?.firstTokenAt || deltaAt === undefined)
      throw new Error('a sample lost its request or its delta');
    await new Promise((resolve) => setTimeout(resolve, thinkMs));
    if (i < warmup) continue;
    const ttfd = deltaAt - sentAt;
    const ttft = request.firstTokenAt - request.receivedAt;
    firstDelta.push(ttfd);
    acks.push(ackAt - sentAt);
    providerFirstToken.push(ttft);
    added.push(ttfd - ttft);
    beforeProvider.push(request.receivedAt - sentAt);
    tokenPath.push(deltaAt - request.firstTokenAt);
  }
  return {
    added: percentiles(added),
    firstDelta: percentiles(firstDelta),
    providerFirstToken: percentiles(providerFirstToken),
    ack: percentiles(acks),
    beforeProvider: percentiles(beforeProvider),
    tokenPath: percentiles(tokenPath),
    samples,
  };
}

/** Offsets tell a client what it missed: text it has is skipped, a gap is counted. */
function assemble(deltas: readonly MessageDeltaEvent[]): { text: string; gaps: number } {
  let text = '';
  let gaps = 0;
  for (const { delta, index } of deltas) {
    if (index > text.length) gaps++;
    else if (index + delta.length > text.length) text += delta.slice(text.length - index);
  }
  return { text, gaps };
}

async function burst(tokens: number, tokenDelayMs: number, timeoutMs: number): Promise<BurstResult> {
  provider!.respond({
    kind: 'reply',
    tokens: Array.from({ length: tokens }, (_, i) => `tok${i} `),
    firstTokenDelayMs: 5,
    tokenDelayMs,
  });
  const started = performance.now();
  const sent = await Promise.all(
    clients.map((client, i) => send(client, `burst question ${i} ${Math.random()}`)),
  );
  const drafts = sent.map(({ message }) => `reply:${message.id}`);
  await until(() => clients.every((client, i) => client.finals.has(drafts[i]!)), timeoutMs).catch(
    () => undefined,
  );
  const durationMs = performance.now() - started;
  let completed = 0;
  let intact = 0;
  let gaps = 0;
  let deltas = 0;
  let reordered = 0;
  let intactSorted = 0;
  const firstDelta: number[] = [];
  clients.forEach((client, i) => {
    const draftId = drafts[i]!;
    const final = client.finals.get(draftId);
    const received = client.deltas.get(draftId) ?? [];
    deltas += received.length;
    const assembled = assemble(received);
    gaps += assembled.gaps;
    if (final) completed++;
    if (final && assembled.text === final.body && assembled.gaps === 0) intact++;
    received.forEach((delta, at) => {
      if (at > 0 && delta.index < received[at - 1]!.index) reordered++;
    });
    const sorted = assemble([...received].sort((a, b) => a.index - b.index));
    if (final && sorted.text === final.body && sorted.gaps === 0) intactSorted++;
    const at = client.firstDelta.get(draftId);
    if (at !== undefined) firstDelta.push(at - sent[i]!.sentAt);
  });
  return {
    streams: clients.length,
    completed,
    intact,
    gaps,
    reordered,
    intactSorted,
    deltas,
    firstDelta: percentiles(firstDelta),
    durationMs,
  };
}

async function handle(command: ClientCommand): Promise<unknown> {
  switch (command.kind) {
    case 'startProvider':
      provider = await OpenAiTestServer.start();
      return { baseUrl: provider.baseUrl };
    case 'connect':
      await connect(command.url, command.users);
      return { connected: clients.length };
    case 'reconnect':
      for (const client of clients.splice(0)) client.socket.disconnect();
      await connect(command.url, command.users);
      return { connected: clients.length };
    case 'latency':
      return latency(command.samples, command.warmup, command.firstTokenDelayMs, command.thinkMs);
    case 'burst':
      return burst(command.tokens, command.tokenDelayMs, command.timeoutMs);
    case 'stop':
      for (const client of clients) client.socket.disconnect();
      await provider?.close();
      return { stopped: true };
  }
}

process.on('message', (command: ClientCommand) => {
  handle(command).then(
    (result) => process.send?.({ id: command.id, ok: true, result } satisfies ClientReply),
    (error: unknown) =>
      process.send?.({
        id: command.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ClientReply),
  );
});
process.on('disconnect', () => process.exit(0));
