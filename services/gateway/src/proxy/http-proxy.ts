import type { Readable } from 'node:stream';
import { type App, unauthorized } from '@parley/kernel';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayMetrics } from '../ops/gateway-metrics.ts';
import type { RouteLabels } from '../ops/route-labels.ts';
import { isAnonymousRoute, type ServiceRoute, SOCKET_SERVICE } from '../service-routes.ts';
import type { UpstreamGroup } from '../upstream/upstream-group.ts';
import { BodyLimit, refuseStreamedBody } from './body-limit.ts';
import { forwardRequest } from './forward-request.ts';
import type { EdgeOwnHeaders } from './headers.ts';

export interface HttpProxyOptions {
  /** The routes to proxy, each with the group of its service. */
  routes: ReadonlyArray<{ route: ServiceRoute; group: UpstreamGroup }>;
  metrics: GatewayMetrics;
  labels: RouteLabels;
  /** Buffered bodies (JSON and the like): larger ones get 413 at the edge. */
  bodyLimitBytes: number;
  /** Streamed bodies (uploads). */
  streamLimitBytes: number;
  /** The headers the edge writes on every answer itself (the process's security headers). */
  edgeOwnHeaders: EdgeOwnHeaders;
  maxAttempts?: number;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Proxies each service prefix to its upstream nodes. Bodies are not parsed here: buffered whole (so an
 * attempt can be repeated on another node) or streamed, per route. Except on the anonymous routes, a
 * request needs a bearer the edge accepted (or an API key, which the service resolves) before it is sent on.
 */
export async function registerHttpProxy(app: App, options: HttpProxyOptions): Promise<void> {
  for (const handling of ['buffer', 'stream'] as const) {
    const routes = options.routes.filter(({ route }) => route.body === handling);
    if (routes.length === 0) continue;
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      if (handling === 'buffer') {
        scope.addContentTypeParser(
          '*',
          { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes },
          (_request, body, done) => done(null, body),
        );
      } else {
        scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
      }
      const byPattern = new Map<string, ServiceRoute>();
      scope.addHook('onResponse', (request, reply, done) => {
        const route = byPattern.get(request.routeOptions.url ?? '');
        if (!route) {
          done();
          return;
        }
        const path = request.url.split('?', 1)[0] ?? '/';
        options.metrics.routeDuration.observe(
          {
            service: route.service,
            method: request.method,
            route: options.labels.label(request.method, path, `${route.prefix}/*`),
            status_code: String(reply.statusCode),
          },
          reply.elapsedTime / 1000,
        );
        done();
      });
      for (const { route, group } of routes) {
        const handler = proxyHandler(route, group, options);
        for (const url of [route.prefix, `${route.prefix}/*`]) {
          byPattern.set(url, route);
          // Hidden: the services document their own routes; the merged document carries them.
          scope.route({ method: METHODS, url, handler, schema: { hide: true } });
        }
      }
    });
  }
}

function proxyHandler(route: ServiceRoute, group: UpstreamGroup, options: HttpProxyOptions) {
  const sticky = route.service === SOCKET_SERVICE && route.prefix === '/socket.io';
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?', 1)[0] ?? '/';
    if (!isAnonymousRoute(request.method, path)) {
      const edge = request.edge;
      if (!edge?.principal && !edge?.apiKey)
        throw edge?.failure ?? unauthorized('A bearer token is required.');
    }
    let body = request.body as Buffer | Readable | undefined;
    if (route.body === 'stream' && body !== undefined && !Buffer.isBuffer(body)) {
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > options.streamLimitBytes) throw refuseStreamedBody(reply);
      body = body.pipe(new BodyLimit(options.streamLimitBytes));
    }
    return forwardRequest(request, reply, body, {
      group,
      metrics: options.metrics,
      sticky,
      maxAttempts: options.maxAttempts ?? 3,
      edgeOwnHeaders: options.edgeOwnHeaders,
    });
  };
}
