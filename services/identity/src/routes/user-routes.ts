import { principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import type { RouteDeps } from './route-deps.ts';
import {
  BearerSecurity,
  DisplayNameSchema,
  IdParams,
  NoContent,
  PageOf,
  PageQuery,
  ProfileWithPresenceSchema,
  PublicProfileSchema,
  problems,
  SettingsSchema,
  Tag,
  UserSchema,
} from './schemas.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export function registerUserRoutes(app: TypedApp, deps: RouteDeps): void {
  const authenticated = requireAuth(deps.authenticator);

  app.patch(
    '/api/v1/users/me',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'Update the caller’s profile (role and email cannot be changed here)',
        security: BearerSecurity,
        body: Type.Object(
          {
            displayName: Type.Optional(DisplayNameSchema),
            avatarUrl: Type.Optional(
              Nullable(Type.String({ format: 'uri', maxLength: 2000, pattern: '^https?://' })),
            ),
            bio: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
            settings: Type.Optional(SettingsSchema),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserSchema, ...problems(400, 401, 404) },
      },
    },
    async (request) => deps.directory.updateProfile(principalOf(request).userId, request.body),
  );

  app.get(
    '/api/v1/users',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'Find people by display name or email prefix; public profiles only',
        security: BearerSecurity,
        querystring: Type.Object(
          { q: Type.String({ minLength: 1, maxLength: 100 }), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(PublicProfileSchema), ...problems(400, 401) },
      },
    },
    async (request) => {
      const { q, limit = 20, cursor } = request.query;
      return deps.directory.search(q, limit, cursor);
    },
  );

  app.get(
    '/api/v1/users/me/blocks',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'The people the caller has blocked',
        security: BearerSecurity,
        response: {
          200: PageOf(
            Type.Object({ user: PublicProfileSchema, createdAt: Type.String({ format: 'date-time' }) }),
          ),
          ...problems(401),
        },
      },
    },
    async (request) => ({
      items: await deps.directory.listBlocked(principalOf(request).userId),
      nextCursor: null,
    }),
  );

  app.get(
    '/api/v1/users/:id',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'A public profile with presence',
        security: BearerSecurity,
        params: IdParams,
        response: { 200: ProfileWithPresenceSchema, ...problems(401, 404) },
      },
    },
    async (request) => deps.directory.profile(request.params.id),
  );

  app.post(
    '/api/v1/users/:id/block',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'Block a user: they can no longer open direct conversations with or message the caller',
        security: BearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await deps.directory.block(principalOf(request).userId, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/api/v1/users/:id/block',
    {
      onRequest: authenticated,
      schema: {
        tags: Tag,
        summary: 'Unblock a user',
        security: BearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401) },
      },
    },
    async (request, reply) => {
      await deps.directory.unblock(principalOf(request).userId, request.params.id);
      return reply.status(204).send(null);
    },
  );
}
