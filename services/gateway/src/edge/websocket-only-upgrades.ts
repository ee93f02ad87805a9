import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AppError, afterAnswerInProgress } from '@parley/kernel';
import { edgeHeadersOf, writeProblem } from '../proxy/raw-response.ts';
import { SOCKET_PATH } from '../service-routes.ts';

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Whether WebSocket is among the protocols the client offers (`Upgrade` is a list, RFC 9110 §7.8). */
export function offersWebSocket(upgrade: string | undefined): boolean {
  return (upgrade ?? '')
    .split(',')
    .some((protocol) => protocol.split('/', 1)[0]?.trim().toLowerCase() === 'websocket');
}

/**
 * Once any 'upgrade' listener exists (chat's Socket.IO in one process, the WebSocket proxy in front of
 * chat nodes), Node hands it every request that carries `Connection: Upgrade`, and never to the routes.
 * The edge upgrades to WebSocket only. Any other offer (`h2c`, sent by `curl --http2` and Java's
 * HttpClient on plain http) is declined as RFC 9110 §7.8 allows and as nginx does: the request is served
 * over HTTP/1.1 by the routes like any other, rather than answered 404 on a path that exists, closed
 * without an answer, or passed on to a node that might accept it past the edge's checks (h2c smuggling).
 *
 * A WebSocket handshake on any method but GET is no handshake (RFC 6455) and is served the same way; a
 * GET one that could not succeed (elsewhere than the socket path, a bad key or version) is refused here
 * with a problem, in both modes alike.
 *
 * Call it once every 'upgrade' listener is attached: they then hear well-formed WebSocket handshakes only.
 */
export function upgradeOnlyToWebSocket(server: Server): void {
  const listeners = server.listeners('upgrade') as UpgradeListener[];
  // Without a listener Node itself serves every request as plain HTTP, its Upgrade header ignored.
  if (listeners.length === 0) return;
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // RFC 6455 §4.1: a handshake is a GET. Any other method offering WebSocket is a plain request.
    if (!offersWebSocket(request.headers.upgrade) || request.method !== 'GET') {
      serveAsPlainHttp(server, request, socket as Socket, head);
      return;
    }
    const problem = handshakeProblem(request);
    if (problem) {
      socket.on('error', () => socket.destroy());
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      writeProblem(socket, problem, path, edgeHeadersOf(request));
      return;
    }
    for (const listener of listeners) listener.call(server, request, socket, head);
  });
}

/** Sec-WebSocket-Key: a random 16-byte nonce, base64-encoded (RFC 6455 §4.1). */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
/** 13 is RFC 6455; the socket layer (ws) still speaks the draft's 8 too. */
const WEBSOCKET_VERSIONS = new Set(['8', '13']);

/**
 * What is wrong with a WebSocket handshake, judged the same way in both modes before any socket layer sees
 * it: chat's Socket.IO in this process would answer a bad key in text/html without a request id and an offer
 * elsewhere than its path with silence, and a node behind the proxy the same.
 */
function handshakeProblem(request: IncomingMessage): AppError | undefined {
  const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
  if (!path.startsWith(SOCKET_PATH)) {
    return new AppError(404, 'not_found', `There is nothing to upgrade at ${path}.`);
  }
  const key = request.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !WEBSOCKET_KEY.test(key)) {
    return new AppError(
      400,
      'bad_request',
      'A WebSocket handshake needs a Sec-WebSocket-Key of 16 base64-encoded bytes.',
    );
  }
  const version = request.headers['sec-websocket-version'];
  if (typeof version !== 'string' || !WEBSOCKET_VERSIONS.has(version)) {
    return new AppError(400, 'bad_request', 'This server speaks WebSocket version 13.', {
      headers: { 'sec-websocket-version': '13' },
    });
  }
  return undefined;
}

/**
 * Puts the request back on its connection without the offer and hands the connection to the HTTP server
 * again (Node documents emitting 'connection' to inject one): it parses the request as a plain one, its
 * body and any later keep-alive requests included, and the routes answer it.
 */
function serveAsPlainHttp(server: Server, request: IncomingMessage, socket: Socket, head: Buffer): void {
  const reinject = () => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // As on a new connection: a keep-alive timer an earlier answer set would cut this exchange short.
    socket.setTimeout(0);
    socket.unshift(Buffer.concat([headWithoutOffer(request), head]));
    server.emit('connection', socket);
  };
  // A pipelined request's answer may still be on its way: the HTTP server that takes the connection back
  // knows nothing of it and would queue this answer behind it forever.
  afterAnswerInProgress(socket, reinject);
}

/** The request line and headers as they came (bytes kept: latin1 both ways), less `Upgrade` and its token. */
function headWithoutOffer(request: IncomingMessage): Buffer {
  const raw = request.rawHeaders;
  let head = `${request.method} ${request.url} HTTP/${request.httpVersion}\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'upgrade') continue;
    if (lower === 'connection') {
      // Other tokens stay: `close` keeps its meaning, and headers named here (HTTP2-Settings) stay
      // hop-by-hop, never forwarded.
      const kept = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && token.toLowerCase() !== 'upgrade');
      if (kept.length > 0) head += `${name}: ${kept.join(', ')}\r\n`;
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}
