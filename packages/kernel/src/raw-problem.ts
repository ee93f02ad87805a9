import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppError } from './errors.ts';

/**
 * Answers, on the raw connection, a request that never reached Fastify's reply (one the HTTP parser
 * refused, an upgrade) with the problem+json every other answer has, then closes the connection: what
 * follows the refused bytes cannot be trusted. `headers` are the caller's (request id, trace, security).
 */
export function writeRawProblem(
  socket: Duplex,
  error: AppError,
  headers: Readonly<Record<string, string>>,
  instance?: string,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(error.toProblem(instance));
  const all: Record<string, string> = {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
    connection: 'close',
    ...error.headers,
  };
  const head = Object.entries(all)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n${head}\r\n${body}`, () =>
    socket.destroy(),
  );
}
