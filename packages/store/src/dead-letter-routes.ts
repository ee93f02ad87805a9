import { Page, problems, Timestamp } from '@parley/contracts';
import { AppError, notFound, requireServiceToken, type TypedApp } from '@parley/kernel';
import { Type } from 'typebox';
import type { DeadLetters } from './dead-letters.ts';

const DeadLetterSchema = Type.Object({
  id: Type.Integer(),
  consumer: Type.String(),
  eventId: Type.String(),
  type: Type.String(),
  /** The event as the consumer got it. */
  envelope: Type.Object({}, { additionalProperties: true }),
  /** The last failure's message. */
  error: Type.String(),
  attempts: Type.Integer(),
  createdAt: Timestamp,
});

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

/**
 * An operator's handle on a service's dead letters (what the `dead_letters` gauge counts), behind the
 * service token and hidden from the public API: list them, replay one into its consumer once the cause is
 * fixed, or discard one. A replay runs in the process asked, which must run that consumer.
 */
export function registerDeadLetterRoutes(
  app: TypedApp,
  options: { service: string; deadLetters: DeadLetters; internalToken: string },
): void {
  const { service, deadLetters } = options;
  const guard = requireServiceToken(options.internalToken);
  const base = `/internal/v1/${service}/dead-letters`;

  app.get(
    base,
    {
      onRequest: guard,
      schema: {
        hide: true,
        querystring: Type.Object(
          {
            consumer: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
            /** The previous page's `nextCursor` (the API's paging, as everywhere: API.md). */
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Page(DeadLetterSchema),
          ...problems(400, 401),
        },
      },
    },
    async (request) => {
      const { consumer, cursor, limit } = request.query;
      const rows = await deadLetters.list({
        limit,
        ...(consumer === undefined ? {} : { consumer }),
        ...(cursor === undefined ? {} : { afterId: Number(cursor) }),
      });
      return {
        items: rows.map((row) => ({
          ...row,
          envelope: row.envelope as unknown as Record<string, unknown>,
          createdAt: row.createdAt.toISOString(),
        })),
        nextCursor: rows.length === limit ? String(rows.at(-1)?.id) : null,
      };
    },
  );

  app.post(
    `${base}/:id/replay`,
    {
      onRequest: guard,
      schema: {
        hide: true,
        params: IdParams,
        response: { 200: Type.Object({ replayed: Type.Literal(true) }), ...problems(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const outcome = await deadLetters.replay(request.params.id);
      switch (outcome.kind) {
        case 'replayed':
          return { replayed: true as const };
        case 'missing':
          throw notFound('No such dead letter.');
        case 'no_consumer':
          throw new AppError(
            409,
            'consumer_not_here',
            `This process does not run the consumer ${outcome.consumer}; ask a process of the service that does.`,
          );
        case 'failed':
          throw new AppError(409, 'replay_failed', `The consumer failed again: ${outcome.error}`);
      }
    },
  );

  app.delete(
    `${base}/:id`,
    {
      onRequest: guard,
      schema: { hide: true, params: IdParams, response: { 204: Type.Null(), ...problems(400, 401, 404) } },
    },
    async (request, reply) => {
      if (!(await deadLetters.discard(request.params.id))) throw notFound('No such dead letter.');
      return reply.status(204).send(null);
    },
  );
}
