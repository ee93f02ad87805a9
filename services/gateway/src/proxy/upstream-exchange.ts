import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { clientResponseHeadersFromRaw, type EdgeOwnHeaders } from './headers.ts';

export interface UpstreamAnswer {
  status: number;
  /** The headers to pass to the client: the upstream's, minus those about its connection. */
  headers: Record<string, string | string[]>;
  /**
   * Undefined when the answer has no body (HEAD, 204, 304); the whole body when it was small and of known
   * size; otherwise the body as it arrives.
   */
  body: Buffer | Readable | undefined;
}

/** Answers up to this size (with a Content-Length) are read whole before they are passed on. */
const SMALL_BODY_BYTES = 64 * 1024;

const NO_BODY_STATUSES = new Set([204, 304]);

/**
 * One request to one upstream node, as an undici dispatch handler: the answer's raw headers are filtered
 * once into what the client gets, a small answer of known size is collected into one buffer (one write
 * with its headers later), and anything else (streams, server-sent events, exports) becomes a stream that
 * applies backpressure to the upstream connection. Cheaper per request than undici's `request()`, which
 * builds a parsed header object and a body stream for every answer.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly answer: Promise<UpstreamAnswer>;
  private resolve!: (answer: UpstreamAnswer) => void;
  private reject!: (error: unknown) => void;
  private abortUpstream: ((error?: Error) => void) | undefined;
  private abortedBeforeConnect: Error | undefined;
  private status = 0;
  private headers: Record<string, string | string[]> = {};
  private chunks: Buffer[] | undefined;
  private stream: Readable | undefined;
  private settled = false;

  constructor(
    private readonly method: string,
    private readonly edgeOwn: EdgeOwnHeaders,
    private readonly onSettled: () => void,
  ) {
    this.answer = new Promise<UpstreamAnswer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Stops the exchange (the client went away): the upstream request is aborted, a stream destroyed. */
  abort(reason: Error): void {
    if (this.abortUpstream) this.abortUpstream(reason);
    else this.abortedBeforeConnect = reason;
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.abortedBeforeConnect) abort(this.abortedBeforeConnect);
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // Interim answers (100 Continue, 103 Early Hints) are the connection's business, not the client's.
    if (status < 200) return true;
    this.status = status;
    this.headers = clientResponseHeadersFromRaw(rawHeaders, this.edgeOwn);
    const length = Number(this.headers['content-length']);
    const eventStream = String(this.headers['content-type']).startsWith('text/event-stream');
    if (
      this.method === 'HEAD' ||
      NO_BODY_STATUSES.has(status) ||
      (length <= SMALL_BODY_BYTES && !eventStream)
    ) {
      this.chunks = [];
      return true;
    }
    const stream = new Readable({ read: resume });
    stream.once('close', () => {
      // Destroyed before its end (the client went away, a pipe broke): nobody will read the rest.
      if (!stream.readableEnded) this.abort(new Error('the answer stream was closed before its end'));
      this.settle();
    });
    this.stream = stream;
    this.resolve({ status, headers: this.headers, body: stream });
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stream) return this.stream.push(chunk);
    this.chunks?.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.stream) {
      this.stream.push(null);
      return;
    }
    const chunks = this.chunks ?? [];
    const hasBody = this.method !== 'HEAD' && !NO_BODY_STATUSES.has(this.status);
    const body = !hasBody ? undefined : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.settle();
    this.resolve({ status: this.status, headers: this.headers, body });
  }

  onError(error: Error): void {
    if (this.stream) {
      this.stream.destroy(error);
      return;
    }
    this.settle();
    this.reject(error);
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled();
  }
}

export interface ExchangeHandle {
  answer: Promise<UpstreamAnswer>;
  abort(reason: Error): void;
}

/**
 * Sends the request on the pool; `onSettled` runs once when the node is done with it (answered or failed).
 * The answer's headers leave out lines equal to the edge's own (`edgeOwn`), which the client gets anyway.
 */
export function exchange(
  pool: Dispatcher,
  request: Dispatcher.DispatchOptions,
  edgeOwn: EdgeOwnHeaders,
  onSettled: () => void,
): ExchangeHandle {
  const handler = new Exchange(request.method, edgeOwn, onSettled);
  pool.dispatch(request, handler);
  return { answer: handler.answer, abort: (reason) => handler.abort(reason) };
}
