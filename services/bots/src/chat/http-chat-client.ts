import type { Logger } from '@parley/kernel';
import {
  type BotMessage,
  type ChatClient,
  ChatRefusedError,
  type ConversationChanges,
  type PostedMessage,
  type StoredMessage,
} from './chat-client.ts';

export interface HttpChatClientOptions {
  /**
   * Chat's base URL; a function because an in-process chat's address is known only once the process
   * listens (a reply taken over at start can be ready to post before that).
   */
  baseUrl: () => string | Promise<string>;
  internalToken: string;
  logger: Logger;
  /** Attempts for a request that failed on the network or with a 5xx (default 4). */
  attempts?: number;
  timeoutMs?: number;
}

/**
 * Chat's internal API over HTTP with the service token. Network failures and 5xx are retried with backoff
 * (posting is idempotent and looking up is a read, so a retry never duplicates); 4xx come back as ChatRefusedError.
 */
export class HttpChatClient implements ChatClient {
  private readonly attempts: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: HttpChatClientOptions) {
    this.attempts = options.attempts ?? 4;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async postMessage(conversationId: string, message: BotMessage): Promise<PostedMessage> {
    const { status, body } = await this.request(
      'POST',
      `/conversations/${encodeURIComponent(conversationId)}/messages`,
      message,
    );
    const posted = body as { id: string; seq: number; createdAt: string };
    return { id: posted.id, seq: posted.seq, createdAt: posted.createdAt, created: status === 201 };
  }

  async findPosted(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<StoredMessage | null> {
    const query = new URLSearchParams({ senderId, clientMessageId });
    try {
      const { body } = await this.request(
        'GET',
        `/conversations/${encodeURIComponent(conversationId)}/messages/posted?${query}`,
      );
      const found = body as StoredMessage;
      return { id: found.id, seq: found.seq, body: found.body, createdAt: found.createdAt };
    } catch (error) {
      if (error instanceof ChatRefusedError && error.status === 404) return null;
      throw error;
    }
  }

  async updateConversation(conversationId: string, changes: ConversationChanges): Promise<void> {
    await this.request('PATCH', `/conversations/${encodeURIComponent(conversationId)}`, changes);
  }

  private async request(
    method: string,
    path: string,
    payload?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const url = `${(await this.options.baseUrl()).replace(/\/+$/, '')}/internal/v1/chat${path}`;
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        const response = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${this.options.internalToken}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const body: unknown = await response.json().catch(() => null);
        if (response.ok) return { status: response.status, body };
        if (response.status < 500) {
          const problem = (body ?? {}) as { code?: string; detail?: string };
          throw new ChatRefusedError(
            response.status,
            problem.code ?? 'refused',
            problem.detail ?? `chat answered ${response.status}`,
          );
        }
        failure = new Error(`chat answered ${response.status}`);
      } catch (error) {
        if (error instanceof ChatRefusedError) throw error;
        failure = error;
      }
      if (attempt >= this.attempts) throw failure;
      this.options.logger.warn({ err: failure, attempt, method, path }, 'chat internal API failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));
    }
  }
}
