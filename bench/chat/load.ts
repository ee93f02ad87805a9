// The load process of bench/chat.ts: every benchmark client lives here, never in the server's process, so
// the server's CPU goes to serving (the machine has two cores: one for the server and PostgreSQL, roughly
// one for this). The raw Socket.IO baseline and Parley are driven by this same code, so their figures
// differ only by what the server does.
import { randomBytes } from 'node:crypto';
import type { ClientToServerEvents, Message, ServerToClientEvents } from '@parley/contracts';
import { io, type Socket } from 'socket.io-client';
import type { ClosedLoopResult, FanoutResult, LoadCommand, LoadReply, PacedResult } from './protocol.ts';
import { pace, pacedLatency, sleep, summarize } from './stats.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const body = 'x'.repeat(120);
const groups = new Map<string, Client[]>();
// Unique across rounds and runs: a repeated clientMessageId would be answered as a replay.
const prefix = randomBytes(4).toString('hex');
let counter = 0;
const nextClientMessageId = () => `${prefix}-${++counter}`;

function connect(url: string, token: string, room: string | undefined): Promise<Client> {
  const socket: Client = io(url, {
    auth: room === undefined ? { token } : { token, room },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

function group(name: string): Client[] {
  const sockets = groups.get(name);
  if (!sockets) throw new Error(`no socket group ${name}`);
  return sockets;
}

async function send(socket: Client, conversationId: string): Promise<boolean> {
  const ack = await socket.emitWithAck('message:send', {
    conversationId,
    body,
    clientMessageId: nextClientMessageId(),
  });
  return ack.ok;
}

async function closedLoop(command: Extract<LoadCommand, { kind: 'closedLoop' }>): Promise<ClosedLoopResult> {
  const sockets = group(command.group);
  const started = performance.now();
  const deadline = started + command.ms;
  let completed = 0;
  let failed = 0;
  await Promise.all(
    sockets.flatMap((socket, index) =>
      Array.from({ length: command.inFlight }, async () => {
        while (performance.now() < deadline) {
          if (await send(socket, command.conversations[index]!)) completed++;
          else failed++;
        }
      }),
    ),
  );
  return { completed, failed, perSecond: completed / ((performance.now() - started) / 1000) };
}

function paced(command: Extract<LoadCommand, { kind: 'paced' }>): Promise<PacedResult> {
  const sockets = group(command.group);
  let next = 0;
  return pacedLatency(command.rate, command.ms, () => {
    const index = next++ % sockets.length;
    return send(sockets[index]!, command.conversations[index]!);
  });
}

async function fanout(command: Extract<LoadCommand, { kind: 'fanout' }>): Promise<FanoutResult> {
  const sockets = group(command.group);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const onMessage = (message: Message) => {
    const at = sentAt.get(message.clientMessageId ?? '');
    if (at !== undefined) latencies.push(performance.now() - at);
  };
  for (const socket of sockets) socket.on('message:new', onMessage);
  const sender = sockets[0]!;
  await pace(command.rate, command.ms, () => {
    const clientMessageId = nextClientMessageId();
    sentAt.set(clientMessageId, performance.now());
    void sender.emitWithAck('message:send', {
      conversationId: command.conversationId,
      body,
      clientMessageId,
    });
  });
  // Let the tail arrive; what has not arrived by then counts as missing.
  await sleep(1000);
  for (const socket of sockets) socket.off('message:new', onMessage);
  return { e2e: summarize(latencies), expected: sentAt.size * sockets.length };
}

async function run(command: LoadCommand): Promise<unknown> {
  switch (command.kind) {
    case 'connect': {
      const sockets: Client[] = [];
      // A few at a time: a burst of thousands of handshakes is not what is being measured.
      for (let i = 0; i < command.tokens.length; i += 50) {
        const slice = command.tokens.slice(i, i + 50);
        sockets.push(
          ...(await Promise.all(slice.map((t, j) => connect(command.url, t, command.rooms?.[i + j])))),
        );
      }
      groups.set(command.group, sockets);
      return { connected: sockets.length };
    }
    case 'closedLoop':
      return closedLoop(command);
    case 'paced':
      return paced(command);
    case 'fanout':
      return fanout(command);
    case 'close': {
      for (const socket of group(command.group)) socket.close();
      groups.delete(command.group);
      return {};
    }
  }
}

process.on('message', (command: LoadCommand) => {
  run(command).then(
    (result) => process.send?.({ id: command.id, ok: true, result } satisfies LoadReply),
    (error: unknown) =>
      process.send?.({ id: command.id, ok: false, error: String(error) } satisfies LoadReply),
  );
});
process.on('disconnect', () => process.exit(0));
