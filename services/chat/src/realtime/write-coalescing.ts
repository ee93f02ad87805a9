import type { Socket as NetSocket } from 'node:net';

/** What this needs of an engine.io connection: its events and, over WebSocket, ws's TCP socket. */
interface EngineConnection {
  on(event: 'packetCreate' | 'flush', listener: () => void): void;
  transport?: { name?: string; socket?: { _socket?: NetSocket } };
}

/**
 * Everything a connection is sent in one turn of the event loop leaves in one TCP write. A send batch
 * commits, and in the same turn each socket gets acks and several `message:new` frames; written one by
 * one, each frame is a syscall, and those syscalls were a quarter of the chat process's CPU under load.
 * The TCP socket is corked at the first frame of a turn and uncorked once the turn's work is done.
 * (Reaches ws's socket through a private field; without it, frames simply go out one by one.)
 */
export function coalesceWrites(connection: EngineConnection): void {
  let corked: NetSocket | undefined;
  const uncork = () => {
    corked?.uncork();
    corked = undefined;
  };
  const cork = () => {
    if (corked) return;
    const transport = connection.transport;
    const tcp = transport?.name === 'websocket' ? transport.socket?._socket : undefined;
    if (!tcp || typeof tcp.cork !== 'function' || tcp.destroyed) return;
    tcp.cork();
    corked = tcp;
    process.nextTick(uncork);
  };
  connection.on('packetCreate', cork);
  connection.on('flush', cork);
}
