import type { Readable } from 'node:stream';
import { AppError, badRequest } from '@parley/kernel';

/**
 * Busboy reports a body that is not the multipart it claims to be (no boundary, cut off before its closing
 * boundary) as a plain Error without status or code, which would otherwise be a 500: it is the client's.
 * Errors that already carry a 4xx status (@fastify/multipart's limits) keep theirs.
 */
export function malformedMultipart(error: unknown): unknown {
  if (error instanceof AppError) return error;
  // The route takes no text fields, so @fastify/multipart's "reach fields limit" (a 413) means the form
  // sent "file" as text rather than as a file: the file is missing, nothing was too large.
  if ((error as { code?: unknown } | null)?.code === 'FST_FIELDS_LIMIT') {
    return badRequest('Send the file as a file part named "file", not as a text field.', [
      { path: 'file', message: 'must be a file' },
    ]);
  }
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return error;
  return new AppError(400, 'invalid_multipart', 'The body is not well-formed multipart/form-data.', {
    cause: error,
  });
}

/**
 * Remembers whether the uploaded part's own stream failed (the client's body broke off mid-file), so that
 * a failure it causes further down (sniffing, storing) is answered as the client's, while a failure of
 * storage itself stays a 500.
 */
export function watchPart(part: Readable): { failed: () => boolean } {
  let failed = false;
  part.once('error', () => {
    failed = true;
  });
  // It may already have been destroyed with the error before this listener was attached.
  return { failed: () => failed || part.errored !== null };
}
