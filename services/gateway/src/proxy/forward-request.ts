import { Readable } from 'node:stream';
import type { ServiceName } from '@parley/kernel';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { GatewayMetrics } from '../ops/gateway-metrics.ts';
import {
  classifyFailure,
  type FailureKind,
  isConnectionFailure,
  isIdempotent,
  nothingWasSent,
} from '../upstream/upstream-errors.ts';
import type { UpstreamGroup } from '../upstream/upstream-group.ts';
import type { UpstreamNode } from '../upstream/upstream-node.ts';
import { BodyTooLargeError, refuseStreamedBody } from './body-limit.ts';
import { type EdgeOwnHeaders, upstreamRequestHeaders } from './headers.ts';
import { isPollingRequest, stickyCookie, stickyKeyFrom } from './sticky-cookie.ts';
import { type ExchangeHandle, exchange, type UpstreamAnswer } from './upstream-exchange.ts';
import { noUpstream, upstreamFailed } from './upstream-problems.ts';

export interface ForwardOptions {
  group: UpstreamGroup;
  metrics: GatewayMetrics;
  /** Keep long-polling sessions on the node that opened them. */
  sticky: boolean;
  maxAttempts: number;
  /** What the edge writes on every answer itself: upstream lines equal to these are not copied over. */
  edgeOwnHeaders: EdgeOwnHeaders;
}

/** Upstream statuses that say "this node cannot serve now" rather than "this request is wrong". */
const NODE_TROUBLE = new Set([502, 503, 504]);

function isProblem(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/problem+json');
}

/**
 * Sends one client request to a node of the service and streams the answer back. A failed attempt moves to
 * another node only when repeating it cannot do harm: the body is replayable (buffered) and either the
 * connection was never made, or the method is idempotent and the connection broke.
 */
export async function forwardRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  body: Buffer | Readable | undefined,
  options: ForwardOptions,
): Promise<FastifyReply> {
  const { group, metrics } = options;
  const service: ServiceName = group.service;
  const method = request.method;
  const replayable = !(body instanceof Readable);
  const trace = request.traceContext;
  // Fastify already judged this request with the process's one trust (clientOf does so for upgrades).
  const client = { ip: request.ip, protocol: request.protocol, host: request.host };
  const headers = upstreamRequestHeaders(request.headers, {
    requestId: request.id,
    trace,
    client,
    contentLength: replayable ? (body?.length ?? 0) : undefined,
  });
  const sticky = options.sticky ? stickyKeyFrom(request.headers) : undefined;

  let clientGone = false;
  let current: ExchangeHandle | undefined;
  reply.raw.once('close', () => {
    if (reply.raw.writableFinished) return;
    clientGone = true;
    current?.abort(new Error('the client closed the connection'));
  });

  const tried = new Set<UpstreamNode>();
  let lastFailure: FailureKind = 'other';
  for (let attempt = 1; ; attempt++) {
    const node = group.pick({ exclude: tried, sticky });
    if (!node) {
      metrics.upstreamErrors.inc({ service, upstream: 'none', kind: 'unavailable' });
      throw tried.size === 0 ? noUpstream(service) : upstreamFailed(service, lastFailure);
    }
    tried.add(node);
    node.inFlight++;
    const started = performance.now();
    let response: UpstreamAnswer;
    try {
      current = exchange(
        node.pool,
        { path: request.url, method: method as Dispatcher.HttpMethod, headers, body: body ?? null },
        options.edgeOwnHeaders,
        () => {
          node.inFlight--;
        },
      );
      response = await current.answer;
    } catch (error) {
      if (clientGone) {
        // The client went away: nobody to answer, and nothing wrong with the node.
        reply.hijack();
        return reply;
      }
      if (
        error instanceof BodyTooLargeError ||
        (error as { cause?: unknown }).cause instanceof BodyTooLargeError
      ) {
        throw refuseStreamedBody(reply);
      }
      const kind = classifyFailure(error);
      const reason = error instanceof Error ? `${kind}: ${error.message}` : kind;
      node.recordFailure(kind, reason);
      metrics.upstreamErrors.inc({ service, upstream: group.label(node), kind });
      lastFailure = kind;
      request.log.warn({ upstream: node.label, service, kind, attempt }, 'upstream request failed');
      const retry =
        replayable &&
        attempt < options.maxAttempts &&
        (nothingWasSent(kind) || (isIdempotent(method) && isConnectionFailure(kind)));
      if (retry) continue;
      throw upstreamFailed(service, kind);
    }

    const status = response.status;
    metrics.upstreamDuration.observe(
      { service, upstream: group.label(node), status_code: String(status) },
      (performance.now() - started) / 1000,
    );
    // A problem+json answer is Parley's application speaking about this request (a bot's provider down,
    // say), not the node failing: counted against the node it would open the breaker of every service
    // the node runs. Anything else with these statuses (a closing server, a proxy in between) is.
    if (NODE_TROUBLE.has(status) && !isProblem(response.headers['content-type'])) {
      node.recordFailure('other', `answered ${status}`);
      metrics.upstreamErrors.inc({ service, upstream: group.label(node), kind: 'status_5xx' });
    } else {
      node.recordSuccess();
    }
    reply.status(status);
    reply.headers(response.headers);
    if (options.sticky && node.key !== sticky && isPollingRequest(request.url)) {
      const existing = response.headers['set-cookie'];
      const cookies = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
      reply.header('set-cookie', [...cookies, stickyCookie(node.key, client.protocol === 'https')]);
    }
    return response.body === undefined ? reply.send() : reply.send(response.body);
  }
}
