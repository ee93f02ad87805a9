import type { ServerResponse } from 'node:http';
import { newId } from '@parley/kernel';

/**
 * A completion's id in OpenAI's `chatcmpl-` shape, random so that no two answers share one (answers of one
 * bot in the same millisecond included), streamed or not.
 */
export function newCompletionId(): string {
  return `chatcmpl-${newId('cmp').slice(4)}`;
}

/** Writes one chat completion as server-sent events in OpenAI's `chat.completion.chunk` format. */
export class CompletionEventStream {
  private readonly id = newCompletionId();
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(
    private readonly response: ServerResponse,
    private readonly model: string,
  ) {}

  /**
   * `replyHeaders`: what the process's hooks put on the reply before it was hijacked (request id, CORS,
   * rate-limit, trace); written here since a hijacked reply never sends them itself.
   */
  open(replyHeaders: Record<string, string | number | string[] | undefined>): void {
    const carried = Object.entries(replyHeaders).filter(
      (entry): entry is [string, string | number | string[]] => entry[1] !== undefined,
    );
    this.response.writeHead(200, {
      ...Object.fromEntries(carried),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies (nginx) would otherwise hold the stream back in their buffers.
      'x-accel-buffering': 'no',
    });
    this.chunk({ role: 'assistant', content: '' }, null);
  }

  content(text: string): void {
    this.chunk({ content: text }, null);
  }

  finish(finishReason: string, usage: { promptTokens: number; completionTokens: number } | undefined): void {
    this.chunk({}, finishReason);
    if (usage) {
      this.write({
        id: this.id,
        object: 'chat.completion.chunk',
        created: this.created,
        model: this.model,
        choices: [],
        usage: {
          prompt_tokens: usage.promptTokens,
          completion_tokens: usage.completionTokens,
          total_tokens: usage.promptTokens + usage.completionTokens,
        },
      });
    }
    this.response.end('data: [DONE]\n\n');
  }

  /** A failure after the stream began: OpenAI clients raise it from their iterator. */
  fail(code: string, message: string): void {
    this.write({ error: { message, type: 'server_error', code } });
    this.response.end();
  }

  get closed(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  private chunk(delta: Record<string, string>, finishReason: string | null): void {
    this.write({
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });
  }

  private write(payload: unknown): void {
    if (this.closed) return;
    this.response.write(`data: ${JSON.stringify(payload)}\n\n`);
  }
}
