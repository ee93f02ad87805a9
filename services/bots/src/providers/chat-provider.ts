/** One message of a chat-completion prompt. */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  /** The provider's model name (an OpenAI model, or a knowledge bot's id for the in-process provider). */
  model: string;
  messages: ChatTurn[];
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  /** Sequences the model stops at (not included in the answer); OpenAI-compatible providers only. */
  stop?: string[] | undefined;
  /** Aborting it stops the stream promptly; the iterator then throws a ProviderError of kind `aborted`. */
  signal: AbortSignal;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** True when the provider reported none and the counts are estimated from the text. */
  estimated: boolean;
}

/**
 * Why an answer ended, in OpenAI's words: `stop` (finished, or a stop sequence), `length` (cut at the
 * token limit), `content_filter` (withheld by the provider).
 */
export type FinishReason = 'stop' | 'length' | 'content_filter';

/**
 * What a stream yields: text deltas in order, then exactly one `usage` as the last chunk, with why the
 * answer ended when the provider said so. The in-process
 * knowledge provider may also say `unanswered` (it had no confident passage and answered that it does not
 * know), which LLM providers never do.
 */
export type CompletionChunk =
  | { type: 'delta'; text: string }
  | { type: 'usage'; usage: TokenUsage; finishReason?: FinishReason }
  | { type: 'unanswered' };

/** The LLM provider port: an OpenAI-compatible API over the network, or the in-process knowledge base. */
export interface ChatProvider {
  stream(request: CompletionRequest): AsyncIterable<CompletionChunk>;
}

/** About four characters per token for English text: good enough when a provider reports no usage. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimatePromptTokens(messages: readonly ChatTurn[]): number {
  return messages.reduce((sum, message) => sum + estimateTokens(message.content) + 4, 2);
}

/**
 * What a provider bills for a call that ended, or broke off, after streaming `text`: its own count when it
 * reported one, otherwise an estimate from the prompt and the text. A call that broke off before streaming
 * anything was most likely never billed: nothing.
 */
export function billedUsage(
  messages: readonly ChatTurn[],
  reported: TokenUsage | undefined,
  text: string,
): TokenUsage | undefined {
  if (reported) return reported;
  if (text === '') return undefined;
  return {
    promptTokens: estimatePromptTokens(messages),
    completionTokens: estimateTokens(text),
    estimated: true,
  };
}
