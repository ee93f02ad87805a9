// Child process of bench/chat.ts: holds N idle authenticated Socket.IO connections so that the server's
// memory can be measured without the clients' own memory in the same process.
import { io, type Socket } from 'socket.io-client';

const [url, tokenList, countText] = process.argv.slice(2);
const tokens = (tokenList ?? '').split(',');
const count = Number(countText);
const sockets: Socket[] = [];
let connected = 0;
let failed = 0;
const BATCH = 500;
for (let i = 0; i < count; i += BATCH) {
  await Promise.all(
    Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => {
      const socket = io(url!, {
        auth: { token: tokens[(i + j) % tokens.length] },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      sockets.push(socket);
      return new Promise<void>((resolve) => {
        socket.once('connect', () => {
          connected++;
          resolve();
        });
        socket.once('connect_error', () => {
          failed++;
          resolve();
        });
      });
    }),
  );
}
process.send?.({ connected, failed });
process.on('message', () => {
  for (const socket of sockets) socket.close();
  process.exit(0);
});
