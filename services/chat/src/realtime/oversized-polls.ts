import type { IncomingMessage, ServerResponse } from 'node:http';
import { payloadTooLarge, requestIdFrom, sendRawProblem } from '@parley/kernel';

type PollingRequest = IncomingMessage & {
  res?: ServerResponse;
  _query?: Record<string, string | undefined>;
};

function answerTooLarge(req: PollingRequest, response: ServerResponse, maxBytes: number): void {
  const problem = payloadTooLarge(`A Socket.IO polling request body may be at most ${maxBytes} bytes.`);
  // The rest of the body is not read: closing the connection is what stops it coming.
  const headers = { 'x-request-id': requestIdFrom(req.headers['x-request-id']), connection: 'close' };
  // The path only: the query carries the session id.
  sendRawProblem(response, problem, headers, req.url?.split('?')[0]);
}

/**
 * An engine.io middleware (`engine.use`) answering a long-polling POST over `maxHttpBufferSize` with the
 * 413 `payload_too_large` problem every other over-limit body gets. engine.io's polling transport answers
 * it itself with a bare 413 and tells no one ('connection_error' is not emitted), so: a declared
 * Content-Length over the limit is refused here, unread; a body without one (chunked) is counted by
 * engine.io, which stops at the limit, and its bare 413 is turned into the problem as it is written.
 */
export function refuseOversizedPolls(maxBytes: number) {
  return (req: PollingRequest, _res: unknown, next: (error?: Error) => void): void => {
    const response = req.res;
    const query = req._query ?? {};
    // Only a session's data request has a body engine.io reads; handshakes and upgrades pass untouched.
    if (!response || req.method !== 'POST' || query.transport !== 'polling' || !query.sid) {
      next();
      return;
    }
    if (Number(req.headers['content-length']) > maxBytes) {
      answerTooLarge(req, response, maxBytes);
      return;
    }
    const writeHead = response.writeHead;
    response.writeHead = function writeHeadUnlessTooLarge(this: ServerResponse, ...args: unknown[]) {
      response.writeHead = writeHead;
      if (args[0] !== 413) return (writeHead as (...rest: unknown[]) => ServerResponse).apply(this, args);
      answerTooLarge(req, response, maxBytes);
      // engine.io calls end() on what this returns: the answer has ended already, so that does nothing.
      return response;
    } as ServerResponse['writeHead'];
    next();
  };
}
