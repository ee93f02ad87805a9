import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The answer Node's HTTP server is still writing on a connection, if any: a pipelined request read whole
 * before may still be waiting for its answer. Node's own field; there is no public one.
 */
export function answerInProgress(socket: Socket): ServerResponse | undefined {
  const answer = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  return answer && !answer.writableFinished ? answer : undefined;
}

/**
 * Runs `next` once the answer in progress on the connection (if any) has been written, so whatever `next`
 * writes is not taken for that answer or queued behind it; an answer that ends unfinished takes the
 * connection with it.
 */
export function afterAnswerInProgress(socket: Socket, next: () => void): void {
  const answer = answerInProgress(socket);
  if (!answer) {
    next();
    return;
  }
  answer.once('finish', next);
  answer.once('close', () => {
    if (!answer.writableFinished) socket.destroy();
  });
}
