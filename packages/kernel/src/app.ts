import type { IncomingMessage } from 'node:http';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { presentsSecret } from './auth/guard.ts';
import { createClientErrorHandler } from './client-errors.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './config.ts';
import { deferredRequestLogger } from './deferred-request-logger.ts';
import { installErrorHandler, sendProblem, toAppError } from './error-handler.ts';
import { AppError, badRequest, unauthorized } from './errors.ts';
import {
  compileProxyTrust,
  type ForwardedClient,
  forwardedClient,
  type TrustProxySetting,
} from './forwarded-client.ts';
import { requestIdFrom } from './ids.ts';
import type { Logger } from './logger.ts';
import { createProcessMetrics, type ProcessMetrics } from './metrics.ts';
import { Readiness } from './readiness.ts';
import { securityHeaders } from './security-headers.ts';
import { unstorableValueIn } from './stored-values.ts';
import { answerUnservedRequests } from './unserved-requests.ts';
import { createValidatorCompiler } from './validation.ts';

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness;
    metrics: ProcessMetrics;
    /** What /openapi.json and /docs show: this process's routes, or a gateway's document merged from its upstreams. */
    openapiDocument: () => Record<string, unknown>;
    /**
     * Who sent a raw request, by the trust Fastify applies to request.ip/protocol/host: for what reaches
     * the server outside the routes (WebSocket upgrades) and for what is passed on as X-Forwarded-*.
     */
    clientOf: (request: IncomingMessage) => ForwardedClient;
  }
}

export type App = FastifyInstance;
/** What a service plugin works with: schemas typed through TypeBox. */
export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface ProcessAppOptions {
  logger: Logger;
  bodyLimitBytes: number;
  /**
   * PARLEY_REQUEST_TIMEOUT_MS: the longest a client may take to send a whole request. Fastify turns Node's
   * limit off by default, and a client trickling its body would then hold its connection for ever.
   */
  requestTimeoutMs?: number;
  corsOrigins: string[] | '*';
  title?: string;
  version?: string;
  /** Serve the interactive API reference at /docs (the edge does); every process serves /openapi.json. */
  serveDocs?: boolean;
  /** Proxies whose X-Forwarded-For names the client (Fastify's trustProxy); default none. */
  trustProxy?: TrustProxySetting;
  /**
   * The deployment's internal token (PARLEY_INTERNAL_TOKEN): a caller presenting it as a bearer on /ready
   * is an operator and sees internal addresses; without it nobody does.
   */
  operatorToken?: string | undefined;
  /**
   * PARLEY_METRICS_TOKEN: when set, /metrics answers only a bearer of it (what a Prometheus scrape job is
   * given), since the figures (routes, sockets, upstream nodes) are no business of the public; unset, it
   * answers anyone, as on a laptop.
   */
  metricsToken?: string | undefined;
}

const METHODS: HTTPMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

/**
 * The root Fastify instance of a process: every service plugin mounted in it inherits request ids,
 * problem+json errors, security headers, CORS, body limits, metrics and the ops endpoints.
 */
export async function createProcessApp(options: ProcessAppOptions): Promise<App> {
  const loggerInstance: FastifyBaseLogger = options.logger;
  const security = securityHeaders();
  const trust = compileProxyTrust(options.trustProxy ?? false);
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app: App = Fastify({
    loggerInstance,
    bodyLimit: options.bodyLimitBytes,
    // A slow sender (body or headers trickled) is answered 408 by the clientErrorHandler and cut off.
    // Node checks the limits every connectionsCheckingInterval (30 s by default): a tenth of the limit keeps
    // the cut close to it.
    requestTimeout,
    http: {
      // Node would refuse a request without Host itself, in a bare 400 of its own: the hook below does.
      requireHostHeader: false,
      headersTimeout: Math.min(60_000, requestTimeout),
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(requestTimeout / 10))),
    },
    // One line per request, written by the onResponse hook below with the route's figures.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    childLoggerFactory: deferredRequestLogger,
    genReqId: (request) => requestIdFrom(request.headers['x-request-id']),
    return503OnClosing: true,
    // What the HTTP parser refuses never reaches the hooks: problem+json too, after any earlier answer.
    clientErrorHandler: createClientErrorHandler(security),
    forceCloseConnections: 'idle',
    // The compiled function itself, not the setting: what Fastify believes is what clientOf believes.
    trustProxy: options.trustProxy ? trust : false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // A URL the router refuses (bad percent-encoding, an over-long path part) never reaches the hooks:
    // answered here in the same problem+json, with the same request id and security headers.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      for (const [name, value] of security) reply.header(name, value);
      sendProblem(reply, request, toAppError(error));
    },
  });

  answerUnservedRequests(app.server, security);
  app.setValidatorCompiler(createValidatorCompiler());
  // The services speak JSON: a text/plain body is 415, not a string that then fails validation as 400.
  app.removeContentTypeParser('text/plain');
  app.decorate('readiness', new Readiness());
  app.decorate('metrics', createProcessMetrics());
  app.decorate('clientOf', (request: IncomingMessage) => forwardedClient(request, trust));
  installErrorHandler(app);
  const answerUnrouted = installMethodAwareNotFound(app);

  // Requests still running when close() starts end their keep-alive connection with their response;
  // otherwise close() would wait for the client's idle timeout before it could finish.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // On the raw response, so answers written past Fastify (streams, hijacked replies) carry them too.
    for (const [name, value] of security) reply.raw.setHeader(name, value);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (HTTP/1.0 may omit it).
    const raw = request.raw;
    if (raw.headers.host === undefined && raw.httpVersionMajor === 1 && raw.httpVersionMinor >= 1) {
      done(new AppError(400, 'bad_request', 'An HTTP/1.1 request needs a Host header.'));
      return;
    }
    done();
  });
  // One rule for every service's JSON bodies: a value no column could hold as sent is refused here, not
  // stored altered by the driver or refused by the database as a 500.
  app.addHook('preValidation', (request, _reply, done) => {
    const body: unknown = request.body;
    const parsedJson =
      Array.isArray(body) ||
      (body !== null && typeof body === 'object' && Object.getPrototypeOf(body) === Object.prototype);
    const problem = parsedJson ? unstorableValueIn(body) : undefined;
    done(problem ? badRequest('The request holds a value that cannot be stored.', [problem]) : undefined);
  });
  // Callback-style hooks on every request's path: an async hook costs a promise and a microtask turn each.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    app.metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
    done();
  });

  if (options.corsOrigins === '*' || options.corsOrigins.length > 0) {
    // @fastify/cors takes every OPTIONS its catch-all route matches for a preflight and answers one without
    // Origin or Access-Control-Request-Method with a bare text/plain 400. Such an OPTIONS is no preflight:
    // it is answered as it would be without CORS (a 405 or 404 problem), before the plugin's hook sees it.
    app.addHook('onRequest', (request, reply, done) => {
      if (request.method !== 'OPTIONS') {
        done();
        return;
      }
      const headers = request.headers;
      const preflight =
        headers.origin !== undefined && headers['access-control-request-method'] !== undefined;
      if (!preflight && request.routeOptions.url === '*') {
        answerUnrouted(request, reply);
        return;
      }
      done();
    });
    await app.register(cors, {
      origin: options.corsOrigins === '*' ? true : options.corsOrigins,
      credentials: options.corsOrigins !== '*',
      // @fastify/cors allows only GET, HEAD and POST unless told: the API also takes PUT, PATCH and DELETE.
      methods: METHODS,
      exposedHeaders: [
        'x-request-id',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
      ],
    });
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: options.title ?? 'Parley API',
        version: options.version ?? '1.0.0',
        description: 'Chat and chatbot platform. Errors are RFC 9457 problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });
  app.decorate('openapiDocument', (): Record<string, unknown> => ({ ...app.swagger() }));
  if (options.serveDocs ?? true) {
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      transformSpecification: () => app.openapiDocument(),
      transformSpecificationClone: false,
    });
  }
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.openapiDocument());

  registerOpsRoutes(app, options.operatorToken, options.metricsToken);
  return app;
}

function registerOpsRoutes(
  app: App,
  operatorToken: string | undefined,
  metricsToken: string | undefined,
): void {
  const operator = operatorToken === undefined ? undefined : Buffer.from(operatorToken);
  const scraper = metricsToken === undefined ? undefined : Buffer.from(metricsToken);
  const isOperator = (request: FastifyRequest) => presentsSecret(request, operator);
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { hide: true } }, async (request, reply) => {
    const report = await app.readiness.report({ operator: isOperator(request) });
    // The answer depends on who asks: a cache in front must never hand an operator's view to anyone else.
    reply.header('cache-control', 'no-store');
    return reply.status(report.ready ? 200 : 503).send(report);
  });
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (scraper && !presentsSecret(request, scraper))
      throw unauthorized('Metrics need the bearer token set in PARLEY_METRICS_TOKEN.');
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });
}

/**
 * Unknown paths are 404 problems; a known path with the wrong method is 405 with an Allow header. Returns
 * that answer, for requests that reach a catch-all route but no route of their own.
 */
function installMethodAwareNotFound(app: App): (request: FastifyRequest, reply: FastifyReply) => void {
  const known = FindMyWay({ ignoreTrailingSlash: true });
  app.addHook('onRoute', (route) => {
    // @fastify/cors answers preflights through a catch-all `OPTIONS *` route: it matches every path, so
    // taken in here it would turn every unknown path into a 405 allowing only OPTIONS.
    if (route.url === '*') return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      try {
        known.on(method as HTTPMethod, route.url ?? route.path, () => {});
      } catch {
        // the same method and path registered twice (HEAD for GET): already known
      }
    }
  });
  const answerUnrouted = (request: FastifyRequest, reply: FastifyReply): void => {
    const path = request.url.split('?')[0] ?? '/';
    // A route of this very method that found nothing to serve (a static file that is not there) is a 404:
    // its path is only known to the router as a wildcard, which the other methods on it match too.
    const routed = known.find(request.method as HTTPMethod, path) !== null;
    const allowed = routed
      ? []
      : METHODS.filter((method) => method !== request.method && known.find(method, path));
    if (allowed.length > 0) {
      const error = new AppError(405, 'method_not_allowed', `${request.method} is not allowed on ${path}.`, {
        headers: { allow: allowed.join(', ') },
      });
      sendProblem(reply, request, error);
      return;
    }
    sendProblem(reply, request, new AppError(404, 'not_found', `There is nothing at ${path}.`));
  };
  app.setNotFoundHandler(answerUnrouted);
  return answerUnrouted;
}
