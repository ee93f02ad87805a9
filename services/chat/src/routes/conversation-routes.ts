import {
  AddMemberBody,
  ConversationSchema,
  CreateConversationBody,
  ListConversationsQuery,
  Page,
  UpdateConversationBody,
} from '@parley/contracts';
import { principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { problems, security } from './responses.ts';
import type { RouteDeps } from './route-deps.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const MemberParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  userId: Type.String({ minLength: 1, maxLength: 64 }),
});
const tags = ['conversations'];

export function conversationRoutes(app: TypedApp, deps: RouteDeps): void {
  const guard = requireAuth(deps.authenticator);

  app.post(
    '/api/v1/conversations',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        body: CreateConversationBody,
        response: { 200: ConversationSchema, 201: ConversationSchema, ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { conversation, created } = await deps.conversations.create(principalOf(request), request.body);
      return reply.status(created ? 201 : 200).send(conversation);
    },
  );

  app.get(
    '/api/v1/conversations',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        querystring: ListConversationsQuery,
        response: { 200: Page(ConversationSchema), ...problems(400, 401) },
      },
    },
    async (request) => deps.conversations.list(principalOf(request), request.query),
  );

  app.get(
    '/api/v1/conversations/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        response: { 200: ConversationSchema, ...problems(401, 404) },
      },
    },
    async (request) => deps.conversations.get(principalOf(request), request.params.id),
  );

  app.patch(
    '/api/v1/conversations/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        body: UpdateConversationBody,
        response: { 200: ConversationSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => deps.conversations.rename(principalOf(request), request.params.id, request.body.title),
  );

  app.post(
    '/api/v1/conversations/:id/members',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        body: AddMemberBody,
        response: { 200: ConversationSchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      deps.conversations.addMember(principalOf(request), request.params.id, request.body.userId),
  );

  app.delete(
    '/api/v1/conversations/:id/members/:userId',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: MemberParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deps.conversations.removeMember(principalOf(request), request.params.id, request.params.userId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/conversations/:id/end',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        // 403: in a group, ending is the owner's (or an admin's) call.
        response: { 200: ConversationSchema, ...problems(401, 403, 404, 409) },
      },
    },
    async (request) => deps.conversations.end(principalOf(request), request.params.id),
  );

  app.delete(
    '/api/v1/conversations/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        params: IdParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await deps.conversations.delete(principalOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
}
