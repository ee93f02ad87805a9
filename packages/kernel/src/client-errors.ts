import type { Socket } from 'node:net';
import { afterAnswerInProgress, answerInProgress } from './answer-in-progress.ts';
import { AppError } from './errors.ts';
import { requestIdFrom } from './ids.ts';
import { writeRawProblem } from './raw-problem.ts';

/** What the HTTP parser (or the server's request timeout) refused, as a coded problem. */
function clientErrorProblem(error: { code?: unknown }): AppError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new AppError(408, 'request_timeout', 'The request did not arrive in time.');
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return new AppError(431, 'headers_too_large', 'The request line and headers are too large.');
  }
  return new AppError(400, 'bad_request', 'The request is not valid HTTP/1.1.');
}

/**
 * Node's 'clientError': a request its parser refused (conflicting framing such as Content-Length with
 * Transfer-Encoding, a malformed header or chunk, headers over the limit) or one that timed out. It never
 * reaches Fastify, so it is answered here in the same problem+json, with a request id and the security
 * headers, and the connection is closed: nothing after the refused bytes can be trusted.
 *
 * A pipelined request read whole before it may still be waiting for its answer (its upstream is slow): the
 * refusal waits for that answer to finish, so it is not taken for the answer of the request before it. When
 * the refused bytes are the body of the request being answered, the refusal is that request's answer.
 */
export function createClientErrorHandler(
  security: ReadonlyArray<readonly [string, string]>,
): (error: Error & { code?: unknown }, socket: Socket) => void {
  const securityHeaders = Object.fromEntries(security);
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const problem = clientErrorProblem(error);
    const refuse = () =>
      writeRawProblem(socket, problem, { 'x-request-id': requestIdFrom(undefined), ...securityHeaders });
    const earlier = answerInProgress(socket);
    if (earlier && !earlier.req.complete) {
      // The refused bytes are this very request's body: the refusal is its answer, unless one has begun.
      if (earlier.headersSent) socket.destroy();
      else refuse();
      return;
    }
    afterAnswerInProgress(socket, refuse);
  };
}
