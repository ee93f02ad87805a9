import { type IncomingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The header lines as received: names as sent, repeated lines kept apart. */
  rawHeaders: string[];
  body: string;
}

/** node:http, for headers fetch refuses to send (Connection, Keep-Alive, ...). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            rawHeaders: response.rawHeaders,
            body,
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.setTimeout(options.timeoutMs ?? 5000, () =>
      outgoing.destroy(new Error(`no answer within ${options.timeoutMs ?? 5000} ms`)),
    );
    outgoing.end(options.body);
  });
}

/**
 * Writes `bytes` as they are on one new connection (pipelined requests, say, the last with `Connection:
 * close`) and resolves with everything the server sent once it closes the connection; rejects if it has
 * not within `timeoutMs`. The client never half-closes: Node's server would drop what it had not answered.
 */
export function rawExchange(url: string, bytes: string, timeoutMs = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection was still open after ${timeoutMs} ms; received: ${received}`));
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', reject);
  });
}

/**
 * A WebSocket upgrade by hand, for the headers of its answer (the 101 or a refusal); the socket is closed
 * as soon as they have come.
 */
export function rawUpgrade(
  url: string,
  headers: Record<string, string> = {},
  options: { method?: string; withoutKey?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const all: Record<string, string> = {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      ...headers,
    };
    if (options.withoutKey) delete all['sec-websocket-key'];
    const outgoing = request(url, { method: options.method ?? 'GET', headers: all, agent: false });
    outgoing.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        rawHeaders: response.rawHeaders,
        body: '',
      });
    });
    outgoing.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          rawHeaders: response.rawHeaders,
          body,
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}
