import multipart from '@fastify/multipart';
import { AttachmentSchema } from '@parley/contracts';
import { AppError, badRequest, principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { malformedMultipart, watchPart } from './malformed-multipart.ts';
import { problems, security } from './responses.ts';
import type { RouteDeps } from './route-deps.ts';

const tags = ['uploads'];

export async function uploadRoutes(app: TypedApp, deps: RouteDeps, uploadMaxBytes: number): Promise<void> {
  await app.register(multipart, { limits: { fileSize: uploadMaxBytes, files: 1, fields: 0, parts: 2 } });
  const guard = requireAuth(deps.authenticator);

  app.post(
    '/api/v1/uploads',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        consumes: ['multipart/form-data'],
        response: { 201: AttachmentSchema, ...problems(400, 401, 413, 415) },
      },
      // A type without a body parser is refused before the handler runs, and the shared error handler's
      // advice for that (send JSON) is wrong here; what it throws goes on to the shared handler.
      errorHandler: (error) => {
        throw error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? notMultipart() : error;
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw notMultipart();
      const files = request.files();
      const first = await files.next().catch((error: unknown) => {
        throw malformedMultipart(error);
      });
      const file = first.done ? undefined : first.value;
      if (file?.fieldname !== 'file') {
        file?.file.resume();
        throw badRequest('Send the file in a field named "file".', [
          { path: 'file', message: 'is required' },
        ]);
      }
      const part = watchPart(file.file);
      const onlyFile = async () => {
        // The files limit of 1 makes a second file a FST_FILES_LIMIT error rather than a part.
        const next = await files.next().catch((error: unknown) => {
          throw (error as { code?: unknown } | null)?.code === 'FST_FILES_LIMIT'
            ? oneFileOnly()
            : malformedMultipart(error);
        });
        if (!next.done) {
          next.value.file.resume();
          throw oneFileOnly();
        }
      };
      const attachment = await deps.uploads
        .upload(principalOf(request), file.filename, file.file, () => file.file.truncated, onlyFile)
        .catch((error: unknown) => {
          throw part.failed() ? malformedMultipart(error) : error;
        });
      return reply.status(201).send(attachment);
    },
  );

  app.get(
    '/api/v1/uploads/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Type.Unknown(), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const download = await deps.uploads.download(principalOf(request), request.params.id);
      return reply
        .header('content-type', download.mimeType)
        .header('content-length', String(download.size))
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(download.name)}`)
        .header('cache-control', 'private, max-age=0')
        .send(download.content);
    },
  );
}

function notMultipart(): AppError {
  return new AppError(
    415,
    'unsupported_media_type',
    'Send the file as multipart/form-data in a field named "file".',
  );
}

function oneFileOnly(): AppError {
  return badRequest('One upload takes exactly one file.', [
    { path: 'file', message: 'must be a single file' },
  ]);
}
