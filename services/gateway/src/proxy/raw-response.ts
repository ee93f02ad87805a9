import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type AppError, requestIdFrom, writeRawProblem } from '@parley/kernel';
import { continueTrace, formatTraceparent, type TraceContext } from '../edge/trace-context.ts';

/** What the edge puts on every answer to an upgrade, as on HTTP: the request id and this hop's trace. */
export interface EdgeHeaders {
  'x-request-id': string;
  traceparent: string;
}

/** As the edge does for HTTP: the client's request id if well-formed, the trace continued or started. */
export function edgeHeadersOf(
  request: IncomingMessage,
  trace: TraceContext = continueTrace(request.headers.traceparent),
): EdgeHeaders {
  return {
    'x-request-id': requestIdFrom(request.headers['x-request-id']),
    traceparent: formatTraceparent(trace),
  };
}

/** Answers a request that never reached Fastify (an upgrade) with a problem+json, then closes the socket. */
export function writeProblem(socket: Duplex, error: AppError, instance: string, edge: EdgeHeaders): void {
  writeRawProblem(socket, error, { ...edge }, instance);
}

/**
 * The status line and headers of an upstream's answer, written as they came (names and order kept), with
 * the edge's own request id and trace in place of any the upstream sent under those names.
 */
export function writeHead(
  socket: Duplex,
  statusCode: number,
  statusMessage: string | undefined,
  rawHeaders: string[],
  edge: EdgeHeaders,
): void {
  let head = `HTTP/1.1 ${statusCode} ${statusMessage ?? STATUS_CODES[statusCode] ?? ''}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (Object.hasOwn(edge, name.toLowerCase())) continue;
    head += `${name}: ${rawHeaders[i + 1]}\r\n`;
  }
  for (const [name, value] of Object.entries(edge)) head += `${name}: ${value}\r\n`;
  socket.write(`${head}\r\n`);
}
