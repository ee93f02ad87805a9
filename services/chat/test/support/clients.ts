import type { ClientToServerEvents, ServerToClientEvents } from '@parley/contracts';
import { io, type Socket } from 'socket.io-client';

export type ChatClient = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A real socket.io-client connection, resolved once connected (or rejected with the connect_error). */
export function connect(url: string, token: string | undefined): Promise<ChatClient> {
  const socket: ChatClient = io(url, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Collects every payload of one event, to assert on what arrived (and what did not). */
export function collect<E extends keyof ServerToClientEvents>(socket: ChatClient, event: E) {
  const received: Parameters<ServerToClientEvents[E]>[0][] = [];
  (socket.on as (event: E, listener: (payload: Parameters<ServerToClientEvents[E]>[0]) => void) => void)(
    event,
    (payload) => received.push(payload),
  );
  return received;
}

export function nextEvent<E extends keyof ServerToClientEvents>(
  socket: ChatClient,
  event: E,
  timeoutMs = 5000,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    (socket.once as (event: E, listener: (payload: Parameters<ServerToClientEvents[E]>[0]) => void) => void)(
      event,
      (payload) => {
        clearTimeout(timer);
        resolve(payload);
      },
    );
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
