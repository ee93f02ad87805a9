import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, payloadTooLarge, requestIdFrom, sendRawProblem } from '@parley/kernel';

type PollingRequest = IncomingMessage & {
  res?: ServerResponse;
  _query?: Record<string, string | undefined>;
};

/** What engine.io answers a session's polling request with, bare, as the problem every other refusal is. */
function engineProblem(status: number, maxBytes: number): AppError | undefined {
  if (status === 413)
    return payloadTooLarge(`A Socket.IO polling request body may be at most ${maxBytes} bytes.`);
  if (status === 400)
    return new AppError(
      400,
      'polling_overlap',
      'Another polling request of this Socket.IO session is still open: one GET and one POST at a time.',
    );
  return undefined;
}

function isProblemAnswer(headers: unknown): boolean {
  const type = (headers as Record<string, unknown> | undefined)?.['content-type'];
  return typeof type === 'string' && type.startsWith('application/problem+json');
}

/** Ends the engine.io session `sid` now, if it is still open. */
export type EndSession = (sid: string) => void;

function answer(req: PollingRequest, response: ServerResponse, problem: AppError): void {
  // The rest of the body is not read: closing the connection is what stops it coming.
  const headers = { 'x-request-id': requestIdFrom(req.headers['x-request-id']), connection: 'close' };
  // The path only: the query carries the session id.
  sendRawProblem(response, problem, headers, req.url?.split('?')[0]);
}

/**
 * An engine.io middleware (`engine.use`) for a long-polling session's requests, which engine.io's polling
 * transport refuses itself with bare statuses and tells no one of ('connection_error' is not emitted): a
 * method other than GET or POST (a bare 500), binary content (Engine.IO 4 polls carry text), a body over
 * `maxHttpBufferSize` (a bare 413) and overlapping requests (a bare 400). The first three are refused here
 * with problems, a declared Content-Length over the limit unread; what engine.io finds only while it reads
 * (a chunked body over the limit, which it stops at, and an overlap) is turned into the problem as its
 * bare status is written.
 *
 * A body over the limit also ends its session (`endSession`), once the 413 is out: engine.io keeps it,
 * though the packets in that body are lost, so the session could only go on with a gap in it. Over
 * WebSocket a frame over the limit ends the session (ws closes the connection, 1009), and engine.io ends
 * it for its own polling refusals (binary content, an overlap): this makes the 413 end it the same way,
 * whether or not the client says it is closing, and the client reconnects.
 */
export function refusePollingMisuse(maxBytes: number, endSession: EndSession) {
  return (req: PollingRequest, _res: unknown, next: (error?: Error) => void): void => {
    const response = req.res;
    const query = req._query ?? {};
    // Only a session's data requests; handshakes, upgrades and CORS preflights pass untouched.
    if (!response || query.transport !== 'polling' || !query.sid || req.method === 'OPTIONS') {
      next();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      answer(
        req,
        response,
        new AppError(405, 'method_not_allowed', 'A Socket.IO polling request is a GET or a POST.', {
          headers: { allow: 'GET, POST' },
        }),
      );
      return;
    }
    if (req.method === 'POST' && req.headers['content-type'] === 'application/octet-stream') {
      answer(
        req,
        response,
        new AppError(415, 'unsupported_media_type', 'Engine.IO 4 polling carries text, not binary content.'),
      );
      return;
    }
    const sid = query.sid;
    // After the answer is out (and engine.io done with the request): ending the session destroys its
    // pending requests.
    const endSessionOnceAnswered = () => response.once('finish', () => endSession(sid));
    if (req.method === 'POST' && Number(req.headers['content-length']) > maxBytes) {
      answer(req, response, engineProblem(413, maxBytes)!);
      endSessionOnceAnswered();
      return;
    }
    const writeHead = response.writeHead;
    response.writeHead = function writeHeadAsProblem(this: ServerResponse, ...args: unknown[]) {
      response.writeHead = writeHead;
      // A bare status only: an unknown session is answered as a problem already (engine-refusals.ts).
      const problem =
        typeof args[0] === 'number' && !isProblemAnswer(args[1])
          ? engineProblem(args[0], maxBytes)
          : undefined;
      if (!problem) return (writeHead as (...rest: unknown[]) => ServerResponse).apply(this, args);
      answer(req, response, problem);
      if (problem.status === 413) endSessionOnceAnswered();
      // engine.io calls end() on what this returns: the answer has ended already, so that does nothing.
      return response;
    } as ServerResponse['writeHead'];
    next();
  };
}
