// The cheapest reverse proxy Node can be, for bench/gateway.ts's baseline (d): node:http in front of an
// undici keep-alive pool, hop-by-hop headers dropped and X-Forwarded-For set, nothing else (no routing,
// tokens, rate limits, metrics or tracing). What it costs is what any Node gateway pays before its own
// work, on the same machine and load. Run as its own process: `node --import tsx <this> <port> <upstream>`.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}

const [port, upstream] = process.argv.slice(2);
if (!port || !upstream) throw new Error('usage: bare-node-proxy.ts <port> <upstream origin>');
const pool = new Pool(upstream, { connections: 64 });
const server = createServer((request, response) => {
  const headers = endToEnd(request.headers);
  headers['x-forwarded-for'] = request.socket.remoteAddress ?? '';
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  pool
    .request({
      method: request.method as 'GET',
      path: request.url ?? '/',
      headers,
      body: hasBody ? request : null,
    })
    .then(async (answer) => {
      response.writeHead(answer.statusCode, endToEnd(answer.headers));
      for await (const chunk of answer.body) response.write(chunk);
      response.end();
    })
    .catch(() => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
});
server.listen(Number(port), '127.0.0.1', () => process.send?.('listening'));
process.on('SIGTERM', () => {
  server.close();
  void pool.close().then(() => process.exit(0));
});
