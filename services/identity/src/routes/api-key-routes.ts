import { notFound, principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import type { RouteDeps } from './route-deps.ts';
import {
  ApiKeyCreatedSchema,
  ApiKeySchema,
  BearerSecurity,
  IdParams,
  NoContent,
  PageOf,
  problems,
  Tag,
} from './schemas.ts';

export function registerApiKeyRoutes(app: TypedApp, deps: RouteDeps): void {
  const authenticated = requireAuth(deps.authenticator);

  app.post(
    '/api/v1/auth/api-keys',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'Create a personal API key; the key is shown only in this response',
        security: BearerSecurity,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
            expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: ApiKeyCreatedSchema, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await deps.apiKeys.create(principalOf(request), request.body)),
  );

  app.get(
    '/api/v1/auth/api-keys',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'The caller’s API keys (without the keys themselves)',
        security: BearerSecurity,
        response: { 200: PageOf(ApiKeySchema), ...problems(401) },
      },
    },
    async (request) => ({ items: await deps.apiKeys.list(principalOf(request).userId), nextCursor: null }),
  );

  app.delete(
    '/api/v1/auth/api-keys/:id',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'Delete one of the caller’s API keys; it stops working at once',
        security: BearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      if (!(await deps.apiKeys.delete(principalOf(request).userId, request.params.id))) {
        throw notFound('There is no such API key.');
      }
      return reply.status(204).send(null);
    },
  );
}
