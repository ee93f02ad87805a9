import { createServer } from 'node:http';
import type { ClientToServerEvents, Message, ServerToClientEvents } from '@parley/contracts';
import { Server } from 'socket.io';

export interface RawServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The transport ceiling: plain Socket.IO in the server's process answering `message:send` the way Parley
 * does — ack with a message-shaped object, then `message:new` to every socket of the conversation (a room
 * each socket joins at the handshake, `auth.room`) — with no authentication, validation or persistence.
 * Driven by the same load process and clients as Parley.
 */
export async function startRawServer(): Promise<RawServer> {
  const httpServer = createServer();
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, { serveClient: false });
  let seq = 0;
  io.on('connection', (socket) => {
    const room: unknown = socket.handshake.auth.room;
    if (typeof room === 'string') void socket.join(room);
    socket.on('message:send', (payload, reply) => {
      const message: Message = {
        id: `msg_${String(++seq).padStart(26, '0')}`,
        conversationId: payload.conversationId,
        seq,
        senderId: `usr_${socket.id}`,
        senderType: 'user',
        type: 'text',
        body: payload.body,
        attachments: [],
        clientMessageId: payload.clientMessageId,
        createdAt: new Date().toISOString(),
      };
      reply({ ok: true, message });
      io.to(payload.conversationId).emit('message:new', message);
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(httpServer.address() as { port: number }).port}`,
    close: async () => {
      io.disconnectSockets(true);
      await io.close();
    },
  };
}
