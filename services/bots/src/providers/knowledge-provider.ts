import type { KnowledgeBase } from '../knowledge/knowledge-base.ts';
import {
  type ChatProvider,
  type CompletionChunk,
  type CompletionRequest,
  estimatePromptTokens,
  estimateTokens,
} from './chat-provider.ts';
import { ProviderError } from './provider-error.ts';

export interface KnowledgeSource {
  /** The indexed knowledge of the bot with this id (the request's `model`), or null when there is no such bot. */
  knowledgeOf(botId: string): Promise<{ base: KnowledgeBase; threshold: number } | null>;
}

export const UNKNOWN_ANSWER =
  "I'm not sure about that one. Could you put it another way? You can also type /human to talk to a person.";

/**
 * The in-process provider behind `faq` bots: no network, no model. It answers the last user message with
 * the best-matching passage of the bot's knowledge base, or says it does not know, streamed word by word
 * through the same pipeline as an LLM's tokens.
 */
export class KnowledgeProvider implements ChatProvider {
  constructor(private readonly source: KnowledgeSource) {}

  async *stream(request: CompletionRequest): AsyncIterable<CompletionChunk> {
    if (request.signal.aborted) throw new ProviderError('aborted', 'The request was cancelled.');
    const knowledge = await this.source.knowledgeOf(request.model);
    if (!knowledge) throw new ProviderError('configuration', `There is no knowledge bot ${request.model}.`);
    const question =
      [...request.messages].reverse().find((message) => message.role === 'user')?.content ?? '';
    const answer = knowledge.base.answer(question, knowledge.threshold);
    const text = answer ? answer.passage.text : UNKNOWN_ANSWER;
    if (!answer) yield { type: 'unanswered' };
    for (const piece of text.match(/\S+\s*/g) ?? [text]) {
      if (request.signal.aborted) throw new ProviderError('aborted', 'The request was cancelled.');
      yield { type: 'delta', text: piece };
    }
    yield {
      type: 'usage',
      usage: {
        promptTokens: estimatePromptTokens(request.messages),
        completionTokens: estimateTokens(text),
        estimated: true,
      },
    };
  }
}
