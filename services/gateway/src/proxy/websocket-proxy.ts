import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { AppError, type ForwardedClient } from '@parley/kernel';
import { continueTrace } from '../edge/trace-context.ts';
import type { GatewayMetrics } from '../ops/gateway-metrics.ts';
import { classifyFailure, type FailureKind } from '../upstream/upstream-errors.ts';
import type { UpstreamGroup } from '../upstream/upstream-group.ts';
import { refusalHeadersFromRaw, upstreamRequestHeaders } from './headers.ts';
import { edgeHeadersOf, writeHead, writeProblem } from './raw-response.ts';
import { stickyKeyFrom } from './sticky-cookie.ts';
import { noUpstream } from './upstream-problems.ts';

export interface WebSocketProxyOptions {
  group: UpstreamGroup;
  metrics: GatewayMetrics;
  connectTimeoutMs: number;
  /**
   * The process app's clientOf: upgrades bypass Fastify, so the client behind a trusted proxy
   * (PARLEY_TRUST_PROXY) is found by the trust Fastify applies to HTTP, not read off the socket.
   */
  clientOf: (request: IncomingMessage) => ForwardedClient;
}

export interface WebSocketProxy {
  /** Proxied connections right now. */
  readonly open: number;
  /** Ends every proxied connection (the gateway is stopping; clients reconnect to another gateway). */
  closeAll(): void;
}

/**
 * Socket.IO's WebSocket upgrade, passed through to a chat node: the handshake is forwarded, and once the
 * node agrees the two sockets are joined byte for byte. A websocket session lives on its one connection, so
 * any node will do; an upgrade from long-polling carries the sticky cookie and goes to the polling node.
 */
export function attachWebSocketProxy(server: Server, options: WebSocketProxyOptions): WebSocketProxy {
  const open = new Set<Duplex>();
  const service = options.group.service;

  server.on('upgrade', (request: IncomingMessage, client: Duplex, head: Buffer) => {
    const trace = continueTrace(request.headers.traceparent);
    const edge = edgeHeadersOf(request, trace);
    // Only handshakes to the socket path get here: upgradeOnlyToWebSocket refused the rest at the edge.
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    client.on('error', () => client.destroy());
    const node = options.group.pick({ sticky: stickyKeyFrom(request.headers) });
    if (!node) {
      options.metrics.upstreamErrors.inc({ service, upstream: 'none', kind: 'unavailable' });
      writeProblem(client, noUpstream(service), path, edge);
      return;
    }
    const headers = upstreamRequestHeaders(request.headers, {
      requestId: edge['x-request-id'],
      trace,
      client: options.clientOf(request),
    });
    headers.connection = 'Upgrade';
    // The one protocol the edge upgrades to (upgradeOnlyToWebSocket), whatever else the client offered.
    headers.upgrade = 'websocket';
    const target = new URL(request.url ?? '/', node.origin);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const outgoing = send(target, {
      method: 'GET',
      headers,
      agent: false,
      timeout: options.connectTimeoutMs,
    });
    let settled = false;
    const fail = (status: 502 | 504, kind: FailureKind, reason: string) => {
      if (settled) return;
      settled = true;
      node.recordFailure(kind, reason);
      options.metrics.upstreamErrors.inc({ service, upstream: options.group.label(node), kind });
      const error =
        status === 504
          ? new AppError(504, 'gateway_timeout', `The ${service} service did not answer in time.`)
          : new AppError(502, 'bad_gateway', `The ${service} service could not be reached.`);
      writeProblem(client, error, path, edge);
    };
    outgoing.on('timeout', () => {
      fail(504, 'connect_timeout', 'upgrade timed out');
      outgoing.destroy();
    });
    // Only a refused connection takes the node out at once; a reset mid-handshake counts in its breaker.
    outgoing.on('error', (error) => fail(502, classifyFailure(error), error.message));
    client.once('close', () => {
      if (settled) return;
      // The client went away first: nothing is wrong with the node, so nothing is held against it (an
      // anonymous client aborting upgrades would otherwise take the node out of rotation).
      settled = true;
      outgoing.destroy();
    });

    outgoing.on('response', (response) => {
      // The node refused the upgrade (a stale session id, say): its answer goes back as it is.
      settled = true;
      node.recordSuccess();
      const headers = refusalHeadersFromRaw(response.rawHeaders);
      writeHead(client, response.statusCode ?? 502, response.statusMessage, headers, edge);
      // A refusal cut short (the node went quiet past the timeout, or died) ends nothing by itself: the
      // client would wait for the rest for ever. Without the rest, its connection is closed.
      response.once('close', () => {
        if (!response.complete) client.destroy();
      });
      response.pipe(client);
    });

    outgoing.on('upgrade', (response, upstream, upstreamHead) => {
      settled = true;
      node.recordSuccess();
      upstream.setTimeout(0);
      upstream.setNoDelay(true);
      if ('setNoDelay' in client && typeof client.setNoDelay === 'function') client.setNoDelay(true);
      writeHead(client, 101, response.statusMessage, response.rawHeaders, edge);
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) upstream.write(head);
      open.add(client);
      options.metrics.openSockets.inc({ service });
      let counted = true;
      const finish = () => {
        if (counted) {
          counted = false;
          open.delete(client);
          options.metrics.openSockets.dec({ service });
        }
        upstream.destroy();
        client.destroy();
      };
      upstream.on('error', finish);
      upstream.on('close', finish);
      client.on('close', finish);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    outgoing.end();
  });

  return {
    get open() {
      return open.size;
    },
    closeAll() {
      for (const socket of open) socket.destroy();
    },
  };
}
