import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, requestIdFrom, sendRawProblem, writeRawProblem } from '@parley/kernel';

/** What engine.io tells of a request it refuses ('connection_error'), before it answers it itself. */
export interface EngineRefusal {
  req: IncomingMessage & { res?: ServerResponse };
  code: number;
  context?: { message?: unknown } | undefined;
}

/** engine.io's error numbers (Server.errors), as the stable codes every other Parley answer uses. */
function problemOf(refusal: EngineRefusal): AppError {
  const said = typeof refusal.context?.message === 'string' ? refusal.context.message : undefined;
  switch (refusal.code) {
    case 0:
      return new AppError(400, 'unknown_transport', 'The Socket.IO transport must be websocket or polling.');
    case 1:
      return new AppError(
        400,
        'unknown_session',
        'This Socket.IO session is not known here (it ended, or was opened on another node): connect again.',
      );
    case 2:
      return new AppError(400, 'bad_handshake_method', 'A Socket.IO handshake is a GET request.');
    case 4:
      return new AppError(403, 'forbidden', said ?? 'This Socket.IO request is not allowed.');
    case 5:
      return new AppError(
        400,
        'unsupported_protocol',
        'Only Engine.IO protocol 4 is spoken here (a Socket.IO v3 or v4 client).',
      );
    default:
      return new AppError(400, 'bad_request', said ?? 'The Socket.IO request is not valid.');
  }
}

/**
 * Answers a Socket.IO request that engine.io refuses (an unknown transport, session or protocol version)
 * in the problem+json every other Parley answer has, instead of engine.io's own `{ code, message }`.
 * engine.io tells of the refusal before answering it and then leaves alone a response already begun
 * (an HTTP request) or a connection no longer writable (an upgrade), so this answer is the only one.
 * The status stays engine.io's, which is what Socket.IO clients go by.
 */
export function answerEngineRefusal(refusal: EngineRefusal): void {
  const problem = problemOf(refusal);
  const { req } = refusal;
  const requestId = requestIdFrom(req.headers['x-request-id']);
  // The path only: the query carries the session id.
  const instance = req.url?.split('?')[0];
  const headers = { 'x-request-id': requestId };
  // An upgrade has no response object, only the connection.
  if (req.res) sendRawProblem(req.res, problem, headers, instance);
  else writeRawProblem(req.socket, problem, headers, instance);
}
