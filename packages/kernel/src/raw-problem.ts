import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppError } from './errors.ts';

/** The problem+json answer's body and headers: the caller's (request id, trace, security), then its own. */
function problemAnswer(error: AppError, headers: Readonly<Record<string, string>>, instance?: string) {
  const body = JSON.stringify(error.toProblem(instance));
  const all: Record<string, string> = {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
    ...error.headers,
  };
  return { body, headers: all };
}

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
  const answer = problemAnswer(error, { ...headers, connection: 'close' }, instance);
  const head = Object.entries(answer.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n${head}\r\n${answer.body}`,
    () => socket.destroy(),
  );
}

/**
 * The same answer through a response Node manages for a request Fastify never saw (an expectation Node
 * does not meet, one engine.io refuses); the connection is kept unless `headers` say `connection: close`.
 * Nothing is written when an answer has begun already.
 */
export function sendRawProblem(
  response: ServerResponse,
  error: AppError,
  headers: Readonly<Record<string, string>>,
  instance?: string,
): void {
  if (response.headersSent) return;
  const answer = problemAnswer(error, headers, instance);
  response.writeHead(error.status, answer.headers);
  response.end(answer.body);
}
