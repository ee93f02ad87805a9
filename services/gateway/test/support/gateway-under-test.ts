import { type Cache, MemoryCache } from '@parley/cache';
import { buildGateway, type Gateway, type GatewayDeps } from '@parley/gateway';
import {
  type App,
  type Config,
  createLogger,
  createProcessApp,
  parseConfig,
  type ServicePlugin,
} from '@parley/kernel';
import { AUDIENCE, ISSUER } from './tokens.ts';

export interface GatewayUnderTest {
  app: App;
  gateway: Gateway;
  url: string;
  cache: Cache;
  config: Config;
  close(): Promise<void>;
}

export interface GatewayTestOptions {
  /** PARLEY_* variables on top of the test defaults (upstreams, rate limit, timeouts). */
  env?: Record<string, string>;
  services?: ServicePlugin[];
  cache?: Cache;
  webRoot?: string;
  /** Run the periodic health checks (off by default: tests call `gateway.health.checkAll()`). */
  periodicHealth?: boolean;
  openapiRefreshMs?: number;
  /** Keep-alive connections per upstream node (production: 128). */
  connectionsPerUpstream?: number;
}

/** A gateway process app as main.ts builds it, listening on a free loopback port. */
export async function startGateway(options: GatewayTestOptions = {}): Promise<GatewayUnderTest> {
  const config = parseConfig({
    NODE_ENV: 'test',
    PARLEY_SERVICES: 'gateway',
    PARLEY_JWT_ISSUER: ISSUER,
    PARLEY_JWT_AUDIENCE: AUDIENCE,
    PARLEY_RATE_LIMIT: '1000',
    PARLEY_GATEWAY_CONNECT_TIMEOUT_MS: '500',
    PARLEY_GATEWAY_HEADERS_TIMEOUT_MS: '2000',
    PARLEY_GATEWAY_BODY_TIMEOUT_MS: '2000',
    PARLEY_GATEWAY_HEALTH_INTERVAL_MS: options.periodicHealth ? '100' : '3600000',
    PARLEY_GATEWAY_BREAKER_OPEN_MS: '300',
    PARLEY_GATEWAY_FAILURE_THRESHOLD: '3',
    ...options.env,
  });
  const logger = createLogger({ level: config.logLevel });
  const app = await createProcessApp({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    operatorToken: config.internalToken,
  });
  const cache = options.cache ?? new MemoryCache();
  const deps: GatewayDeps = {
    config,
    services: options.services ?? [],
    cache,
    logger,
    webRoot: options.webRoot,
    openapiRefreshMs: options.openapiRefreshMs ?? 3_600_000,
    ...(options.connectionsPerUpstream ? { connectionsPerUpstream: options.connectionsPerUpstream } : {}),
  };
  const gateway = await buildGateway(app, deps);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    gateway,
    url,
    cache,
    config,
    close: async () => {
      await app.close();
      if (!options.cache) await cache.close();
    },
  };
}
