import {
  AddKnowledgeBody,
  BotCommandSchema,
  CreateCommandBody,
  KnowledgeDocumentSchema,
  ListKnowledgeQuery,
  Page,
} from '@parley/contracts';
import { requireRole, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { BotIdParams } from './bot-routes.ts';
import { problems, security } from './responses.ts';
import type { RouteDeps } from './route-deps.ts';

const DocumentParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  documentId: Type.String({ minLength: 1, maxLength: 64 }),
});
const CommandParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  name: Type.String({ minLength: 1, maxLength: 32 }),
});
const tags = ['bots'];

/** A bot's knowledge documents and custom commands: admin only. */
export function knowledgeRoutes(app: TypedApp, deps: RouteDeps): void {
  const admin = requireRole(deps.authenticator, 'admin');

  app.post(
    '/api/v1/bots/:id/knowledge',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: BotIdParams,
        body: AddKnowledgeBody,
        response: { 201: KnowledgeDocumentSchema, ...problems(400, 401, 403, 404, 413) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await deps.knowledge.add(request.params.id, request.body)),
  );

  app.get(
    '/api/v1/bots/:id/knowledge',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: BotIdParams,
        querystring: ListKnowledgeQuery,
        response: { 200: Page(KnowledgeDocumentSchema), ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => deps.knowledge.list(request.params.id, request.query),
  );

  app.delete(
    '/api/v1/bots/:id/knowledge/:documentId',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: DocumentParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await deps.knowledge.remove(request.params.id, request.params.documentId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/bots/:id/commands',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: BotIdParams,
        body: CreateCommandBody,
        response: { 201: BotCommandSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await deps.commands.create(request.params.id, request.body)),
  );

  app.get(
    '/api/v1/bots/:id/commands',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: BotIdParams,
        response: { 200: Type.Object({ items: Type.Array(BotCommandSchema) }), ...problems(401, 403, 404) },
      },
    },
    async (request) => ({ items: await deps.commands.list(request.params.id) }),
  );

  app.delete(
    '/api/v1/bots/:id/commands/:name',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        params: CommandParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await deps.commands.remove(request.params.id, request.params.name);
      return reply.status(204).send(null);
    },
  );
}
