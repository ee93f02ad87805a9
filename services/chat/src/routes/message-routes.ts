import {
  EditMessageBody,
  HistoryQuery,
  MessageSchema,
  Page,
  ReadBody,
  SearchQuery,
  SendMessageBody,
} from '@parley/contracts';
import { principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { problems, security } from './responses.ts';
import type { RouteDeps } from './route-deps.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const MessageParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  messageId: Type.String({ minLength: 1, maxLength: 64 }),
});
const tags = ['messages'];

export function messageRoutes(app: TypedApp, deps: RouteDeps): void {
  const guard = requireAuth(deps.authenticator);

  app.get(
    '/api/v1/conversations/:id/messages',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        querystring: HistoryQuery,
        response: { 200: Page(MessageSchema), ...problems(400, 401, 404) },
      },
    },
    async (request) => deps.history.page(principalOf(request), request.params.id, request.query),
  );

  app.post(
    '/api/v1/conversations/:id/messages',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        body: SendMessageBody,
        response: { 200: MessageSchema, 201: MessageSchema, ...problems(400, 401, 403, 404, 409, 413) },
      },
    },
    async (request, reply) => {
      const { message, created } = await deps.messages.send(
        principalOf(request),
        request.params.id,
        request.body,
      );
      return reply.status(created ? 201 : 200).send(message);
    },
  );

  app.patch(
    '/api/v1/conversations/:id/messages/:messageId',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: MessageParams,
        body: EditMessageBody,
        response: { 200: MessageSchema, ...problems(400, 401, 403, 404, 409, 413) },
      },
    },
    async (request) =>
      deps.messages.edit(
        principalOf(request),
        request.params.id,
        request.params.messageId,
        request.body.body,
      ),
  );

  app.delete(
    '/api/v1/conversations/:id/messages/:messageId',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: MessageParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deps.messages.delete(principalOf(request), request.params.id, request.params.messageId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/conversations/:id/read',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        body: ReadBody,
        response: { 204: Type.Null(), ...problems(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      await deps.receipts.mark(principalOf(request), request.params.id, 'read', request.body.seq);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/search/messages',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        querystring: SearchQuery,
        response: { 200: Page(MessageSchema), ...problems(400, 401) },
      },
    },
    async (request) =>
      deps.history.search(
        principalOf(request),
        request.query.q,
        request.query.cursor,
        request.query.limit ?? 20,
      ),
  );
}
