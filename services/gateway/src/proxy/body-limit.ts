import { Transform, type TransformCallback } from 'node:stream';
import { type AppError, payloadTooLarge } from '@parley/kernel';
import type { FastifyReply } from 'fastify';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The request body is larger than ${limit} bytes.`);
    this.name = 'BodyTooLargeError';
  }
}

/** Passes a streamed request body through, failing it once more than `limit` bytes went by. */
export class BodyLimit extends Transform {
  private seen = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) callback(new BodyTooLargeError(this.limit));
    else callback(null, chunk);
  }
}

/**
 * The 413 for a streamed body, with the connection closed once it is sent. Kept alive, the connection
 * would have Node read the rest of the body off the socket to drop it (however long the client goes on
 * sending), or, once the piping stopped, hold it half-read with its buffers full: neither answers the
 * client that its body is refused. Fastify closes the same way for the bodies it buffers.
 */
export function refuseStreamedBody(reply: FastifyReply): AppError {
  reply.header('connection', 'close');
  return payloadTooLarge('The request body is too large.');
}
