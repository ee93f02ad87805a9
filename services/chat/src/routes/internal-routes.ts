import {
  ConversationSchema,
  InternalPostedMessageQuery,
  InternalPostMessageBody,
  InternalUpdateConversationBody,
  MessageSchema,
} from '@parley/contracts';
import { type Principal, requireServiceToken, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import { problems } from './responses.ts';
import type { RouteDeps } from './route-deps.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const SERVICE: Principal = {
  userId: 'service',
  role: 'admin',
  sessionId: null,
  credentialId: 'internal-token',
  kind: 'service',
  expiresAt: null,
};

/**
 * What other services (console, bots) change through chat: status, assignment, who handles a conversation,
 * and bot or system messages, and whether such a message was stored. Protected by the shared service token, hidden from the public API document.
 */
export function internalRoutes(app: TypedApp, deps: RouteDeps): void {
  const guard = requireServiceToken(deps.internalToken);

  app.patch(
    '/internal/v1/chat/conversations/:id',
    {
      onRequest: guard,
      schema: {
        hide: true,
        params: IdParams,
        body: InternalUpdateConversationBody,
        response: { 200: ConversationSchema, ...problems(400, 401, 404, 409) },
      },
    },
    async (request) => deps.conversations.applyInternal(SERVICE, request.params.id, request.body),
  );

  app.post(
    '/internal/v1/chat/conversations/:id/messages',
    {
      onRequest: guard,
      schema: {
        hide: true,
        params: IdParams,
        body: InternalPostMessageBody,
        response: { 200: MessageSchema, 201: MessageSchema, ...problems(400, 401, 404, 409, 413) },
      },
    },
    async (request, reply) => {
      const { message, created } = await deps.messages.post({
        conversationId: request.params.id,
        ...request.body,
      });
      return reply.status(created ? 201 : 200).send(message);
    },
  );

  app.get(
    '/internal/v1/chat/conversations/:id/messages/posted',
    {
      onRequest: guard,
      schema: {
        hide: true,
        params: IdParams,
        querystring: InternalPostedMessageQuery,
        response: { 200: MessageSchema, ...problems(400, 401, 404) },
      },
    },
    async (request) =>
      deps.messages.findPosted(request.params.id, request.query.senderId, request.query.clientMessageId),
  );
}
