import { principalOf, requireRole, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import type { RouteDeps } from './route-deps.ts';
import {
  AdminUserSchema,
  BearerSecurity,
  IdParams,
  NoContent,
  PageOf,
  PageQuery,
  problems,
  RoleSchema,
} from './schemas.ts';

const Tag = ['admin'];

export function registerAdminRoutes(app: TypedApp, deps: RouteDeps): void {
  const admin = requireRole(deps.authenticator, 'admin');

  app.get(
    '/api/v1/admin/users',
    {
      onRequest: admin,
      schema: {
        tags: Tag,
        summary: 'All accounts, filtered by name/email prefix, role and state',
        security: BearerSecurity,
        querystring: Type.Object(
          {
            q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            role: Type.Optional(RoleSchema),
            active: Type.Optional(Type.Boolean()),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(AdminUserSchema), ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { q, role, active, limit = 20, cursor } = request.query;
      return deps.admin.list({
        limit,
        ...(q !== undefined ? { q } : {}),
        ...(role !== undefined ? { role } : {}),
        ...(active !== undefined ? { active } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      });
    },
  );

  app.patch(
    '/api/v1/admin/users/:id',
    {
      onRequest: admin,
      schema: {
        tags: Tag,
        summary:
          'Change a user’s role or deactivate/reactivate them (deactivation revokes all sessions at once)',
        security: BearerSecurity,
        params: IdParams,
        body: Type.Object(
          { role: Type.Optional(RoleSchema), active: Type.Optional(Type.Boolean()) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: AdminUserSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => deps.admin.update(principalOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/v1/admin/users/:id',
    {
      onRequest: admin,
      schema: {
        tags: Tag,
        summary: 'Delete a user and everything identity holds about them',
        security: BearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deps.admin.delete(principalOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/admin/signing-keys/rotate',
    {
      onRequest: admin,
      schema: {
        tags: Tag,
        summary: 'Start signing with a new key; the old public key stays published until its tokens expire',
        security: BearerSecurity,
        response: { 200: Type.Object({ kid: Type.String() }), ...problems(401, 403) },
      },
    },
    async () => ({ kid: await deps.keys.rotate() }),
  );
}
