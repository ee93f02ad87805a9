import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppError } from '@parley/kernel';

/** Answers a request that never reached Fastify (an upgrade) with a problem+json, then closes the socket. */
export function writeProblem(socket: Duplex, error: AppError, instance: string, requestId: string): void {
  const body = JSON.stringify(error.toProblem(instance));
  const headers = {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
    connection: 'close',
    ...error.headers,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n');
  if (socket.writable)
    socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n${head}\r\n\r\n${body}`);
  else socket.destroy();
}

/** The status line and headers of an upstream's answer, written as they came (names and order kept). */
export function writeHead(
  socket: Duplex,
  statusCode: number,
  statusMessage: string | undefined,
  rawHeaders: string[],
): void {
  let head = `HTTP/1.1 ${statusCode} ${statusMessage ?? STATUS_CODES[statusCode] ?? ''}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  socket.write(`${head}\r\n`);
}
