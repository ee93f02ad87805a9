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

/** The Engine.IO protocol this server speaks (engine.io takes any other `EIO` for 3, which it refuses). */
const ENGINE_PROTOCOL = '4';

/**
 * An engine.io middleware (`engine.use`) refusing a new WebSocket session of another Engine.IO version before
 * the upgrade. engine.io checks the version of a WebSocket handshake only once ws has switched protocols,
 * so its refusal (and the problem answerEngineRefusal writes) reached the client as bytes in the WebSocket
 * stream after a 101: the switch seemed to succeed, then the connection broke on frames that were not.
 * Transport, method and session checks all come before the upgrade already; this is the one that did not.
 */
export function refuseOtherProtocolUpgrades(
  req: IncomingMessage & { res?: ServerResponse; _query?: Record<string, string | undefined> },
  _res: unknown,
  next: (error?: Error) => void,
): void {
  const query = req._query ?? {};
  // An HTTP request (polling) has its response: engine.io refuses it before answering, as it should.
  const newWebSocketSession = !req.res && query.transport === 'websocket' && !query.sid;
  if (newWebSocketSession && query.EIO !== ENGINE_PROTOCOL) {
    // Answered here, so engine.io never upgrades it: next() is not called.
    // 5: engine.io's UNSUPPORTED_PROTOCOL_VERSION, the refusal it would have made after the upgrade.
    answerEngineRefusal({ req, code: 5 });
    return;
  }
  next();
}
