import { ChatCompletionRequest, ChatCompletionResponse, OpenAiModelList } from '@parley/contracts';
import { principalOf, requireAuth, type TypedApp } from '@parley/kernel';
import { respondJson, respondStreaming } from '../openai/respond.ts';
import { problems, security } from './responses.ts';
import type { RouteDeps } from './route-deps.ts';

const tags = ['openai'];

/** OpenAI-compatible: any OpenAI SDK pointed at `<origin>/api/v1/openai` talks to Parley bots. */
export function openAiRoutes(app: TypedApp, deps: RouteDeps): void {
  const signedIn = requireAuth(deps.authenticator);

  app.get(
    '/api/v1/openai/models',
    {
      onRequest: signedIn,
      schema: { tags, security, response: { 200: OpenAiModelList, ...problems(401) } },
    },
    async () => deps.completions.models(),
  );

  app.post(
    '/api/v1/openai/chat/completions',
    {
      onRequest: signedIn,
      schema: {
        tags,
        security,
        description:
          'With `stream: true` the answer is `text/event-stream` in OpenAI chunk format, ending with `data: [DONE]`.',
        body: ChatCompletionRequest,
        response: { 200: ChatCompletionResponse, ...problems(400, 401, 404, 429, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const prepared = await deps.completions.prepare(principalOf(request), request.body);
      if (!request.body.stream) return respondJson(deps.completions, prepared, reply);
      await respondStreaming(deps.completions, prepared, reply, {
        includeUsage: request.body.stream_options?.include_usage === true,
        logger: deps.logger,
      });
      return reply;
    },
  );
}
