import { notFound, principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import type { RouteDeps } from './route-deps.ts';
import { BearerSecurity, IdParams, NoContent, PageOf, problems, SessionSchema, Tag } from './schemas.ts';

export function registerSessionRoutes(app: TypedApp, deps: RouteDeps): void {
  const authenticated = requireAuth(deps.authenticator);

  app.get(
    '/api/v1/auth/sessions',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'The caller’s open sessions (devices), most recently used first',
        security: BearerSecurity,
        response: { 200: PageOf(SessionSchema), ...problems(401) },
      },
    },
    async (request) => ({ items: await deps.sessions.list(principalOf(request)), nextCursor: null }),
  );

  app.delete(
    '/api/v1/auth/sessions/:id',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'End one of the caller’s sessions; its tokens stop working at once',
        security: BearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      if (!(await deps.sessions.end(principalOf(request), request.params.id)))
        throw notFound('There is no such session.');
      return reply.status(204).send(null);
    },
  );
}
