import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the test server does with one chat-completions request. */
export type Script =
  /** Streams these tokens (or answers them joined, without `stream`), waiting before the first and between. */
  | {
      kind: 'reply';
      tokens: string[];
      firstTokenDelayMs?: number;
      tokenDelayMs?: number;
      usage?: boolean;
      /** Why the answer ended, as the provider says it (default `stop`; `length`: cut at max_tokens). */
      finishReason?: string;
    }
  /** Answers with this HTTP status and an OpenAI-style error body. */
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  /** Accepts the request and never sends a byte back. */
  | { kind: 'hang' }
  /** Sends the headers and `tokens`, then nothing more, keeping the connection open. */
  | { kind: 'stall'; tokens: string[] }
  /** Answers 200 with a web page, no event stream: what a base URL pointing at a website gets back. */
  | { kind: 'page' };

export interface RecordedRequest {
  path: string;
  authorization: string | undefined;
  body: {
    model?: string;
    stream?: boolean;
    messages?: { role: string; content: string }[];
    temperature?: number;
    max_tokens?: number;
    stop?: string | string[];
    stream_options?: { include_usage?: boolean };
  };
  /** performance.now() when the request body had arrived, and when the first token was written. */
  receivedAt: number;
  firstTokenAt: number | undefined;
  /** True once the caller hung up before the answer was complete (it aborted the request). */
  abandoned: boolean;
}

/**
 * A local OpenAI-compatible chat-completions server that streams server-sent events in OpenAI's chunk
 * format: the peer tests and benchmarks talk to instead of a real provider. Listens on loopback only.
 */
export class OpenAiTestServer {
  readonly requests: RecordedRequest[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private script: (request: RecordedRequest) => Script = () => ({
    kind: 'reply',
    tokens: ['Hello', ' there', '!'],
  });
  private sequence = 0;

  private constructor() {
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<OpenAiTestServer> {
    const peer = new OpenAiTestServer();
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  /** The base URL an OpenAI client takes (`.../v1`). */
  get baseUrl(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1`;
  }

  /** Decides the behaviour of every following request. */
  respond(script: Script | ((request: RecordedRequest) => Script)): void {
    this.script = typeof script === 'function' ? script : () => script;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (request.method === 'GET' && path.endsWith('/models')) {
      json(response, 200, {
        object: 'list',
        data: [{ id: 'test-model', object: 'model', created: 0, owned_by: 'test' }],
      });
      return;
    }
    if (request.method !== 'POST' || !path.endsWith('/chat/completions')) {
      json(response, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
      return;
    }
    let body: RecordedRequest['body'];
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedRequest['body'];
    } catch {
      json(response, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error' } });
      return;
    }
    const recorded: RecordedRequest = {
      path,
      authorization: request.headers.authorization,
      body,
      receivedAt: performance.now(),
      firstTokenAt: undefined,
      abandoned: false,
    };
    response.once('close', () => {
      if (!response.writableFinished) recorded.abandoned = true;
    });
    this.requests.push(recorded);
    const script = this.script(recorded);
    switch (script.kind) {
      case 'hang':
        return;
      case 'status':
        json(
          response,
          script.status,
          { error: { message: `scripted ${script.status}`, type: 'server_error' } },
          script.retryAfterSeconds !== undefined ? { 'retry-after': String(script.retryAfterSeconds) } : {},
        );
        return;
      case 'stall':
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const token of script.tokens) this.writeChunk(response, recorded, { content: token }, null);
        return;
      case 'page':
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end('<!doctype html>\n<html><body><h1>Welcome</h1></body></html>\n');
        return;
      case 'reply':
        await this.reply(response, recorded, script);
    }
  }

  private async reply(
    response: ServerResponse,
    recorded: RecordedRequest,
    script: Extract<Script, { kind: 'reply' }>,
  ): Promise<void> {
    const text = script.tokens.join('');
    const promptTokens = (recorded.body.messages ?? []).reduce(
      (sum, m) => sum + Math.ceil(String(m.content).length / 4),
      0,
    );
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: script.tokens.length,
      total_tokens: promptTokens + script.tokens.length,
    };
    if (script.firstTokenDelayMs) await delay(script.firstTokenDelayMs);
    if (!recorded.body.stream) {
      recorded.firstTokenAt = performance.now();
      json(response, 200, {
        id: this.nextId(),
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: recorded.body.model ?? 'test-model',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: text },
            finish_reason: script.finishReason ?? 'stop',
          },
        ],
        usage,
      });
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const id = this.nextId();
    this.writeChunk(response, recorded, { role: 'assistant', content: '' }, null, id);
    for (const [index, token] of script.tokens.entries()) {
      if (index > 0 && script.tokenDelayMs) await delay(script.tokenDelayMs);
      if (response.destroyed) return;
      recorded.firstTokenAt ??= performance.now();
      this.writeChunk(response, recorded, { content: token }, null, id);
    }
    this.writeChunk(response, recorded, {}, script.finishReason ?? 'stop', id);
    if ((script.usage ?? true) && recorded.body.stream_options?.include_usage) {
      response.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model: recorded.body.model, choices: [], usage })}\n\n`,
      );
    }
    response.end('data: [DONE]\n\n');
  }

  private writeChunk(
    response: ServerResponse,
    recorded: RecordedRequest,
    delta: Record<string, string>,
    finishReason: string | null,
    id = this.nextId(),
  ): void {
    if (delta.content) recorded.firstTokenAt ??= performance.now();
    const chunk = {
      id,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: recorded.body.model ?? 'test-model',
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    };
    response.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  private nextId(): string {
    this.sequence += 1;
    return `chatcmpl-test${this.sequence}`;
  }
}

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
