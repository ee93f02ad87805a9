// A child process for bench/bots-transport.ts: a chat-completions endpoint that answers each request after
// 20 ms with one SSE chunk carrying, as its content, the moment it was written, and the moment the request
// arrived in a header. Both are absolute (timeOrigin + now), so the parent can subtract its own clock.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const now = () => performance.timeOrigin + performance.now();
const chunk = (content: string) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'bench-model',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  })}\n\n`;

const server = createServer((request, response) => {
  const arrivedAt = now();
  request.resume();
  request.on('end', () => {
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'x-arrived-at': String(arrivedAt) });
      response.write(chunk(String(now())));
      response.end('data: [DONE]\n\n');
    }, 20);
  });
});
server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
process.on('disconnect', () => server.close());
