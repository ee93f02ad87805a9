import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from './errors.ts';
import { requestIdFrom } from './ids.ts';
import { sendRawProblem, writeRawProblem } from './raw-problem.ts';

/**
 * Two requests Node answers before Fastify sees them, with an empty response of its own: one whose
 * `Expect` is not `100-continue` (a bare 417) and a CONNECT (the connection simply dropped, since nothing
 * here tunnels). Both are answered in problem+json with a request id and the security headers, and the
 * connection is closed: a client that expected something else may already be sending what follows.
 */
export function answerUnservedRequests(
  server: Server,
  security: ReadonlyArray<readonly [string, string]>,
): void {
  const securityHeaders = Object.fromEntries(security);
  const headersFor = (request: IncomingMessage) => ({
    'x-request-id': requestIdFrom(request.headers['x-request-id']),
    ...securityHeaders,
  });
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const problem = new AppError(
      417,
      'expectation_failed',
      'Only "Expect: 100-continue" is understood here; send the request without the other expectation.',
    );
    const headers = { ...headersFor(request), connection: 'close' };
    sendRawProblem(response, problem, headers, request.url?.split('?')[0]);
  });
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    const problem = new AppError(405, 'method_not_allowed', 'CONNECT is not served: this is no proxy.');
    writeRawProblem(socket, problem, headersFor(request));
  });
}
