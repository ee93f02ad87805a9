import { BotSchema, CreateBotBody, ListBotsQuery, Page, UpdateBotBody } from '@parley/contracts';
import { principalOf, requireAuth, requireRole, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { problems, security } from './responses.ts';
import type { RouteDeps } from './route-deps.ts';

export const BotIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const tags = ['bots'];

export function botRoutes(app: TypedApp, deps: RouteDeps): void {
  const signedIn = requireAuth(deps.authenticator);
  const admin = requireRole(deps.authenticator, 'admin');

  app.get(
    '/api/v1/bots',
    {
      onRequest: signedIn,
      schema: {
        tags,
        security,
        querystring: ListBotsQuery,
        response: { 200: Page(BotSchema), ...problems(400, 401) },
      },
    },
    async (request) => deps.bots.list(principalOf(request), request.query),
  );

  app.get(
    '/api/v1/bots/:id',
    {
      onRequest: signedIn,
      schema: { tags, security, params: BotIdParams, response: { 200: BotSchema, ...problems(401, 404) } },
    },
    async (request) => deps.bots.get(principalOf(request), request.params.id),
  );

  app.post(
    '/api/v1/bots',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        body: CreateBotBody,
        response: { 201: BotSchema, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await deps.bots.create(principalOf(request), request.body)),
  );

  app.patch(
    '/api/v1/bots/:id',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: BotIdParams,
        body: UpdateBotBody,
        response: { 200: BotSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => deps.bots.update(principalOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/v1/bots/:id',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: BotIdParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await deps.bots.delete(principalOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
}
