import { isAbsolute, resolve } from 'node:path';
import proxyAddr from '@fastify/proxy-addr';

/** The services a process can run; `PARLEY_SERVICES` picks a subset. */
export const SERVICE_NAMES = ['gateway', 'identity', 'chat', 'bots', 'console', 'personalization'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface Config {
  environment: 'development' | 'production' | 'test';
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  services: ReadonlySet<ServiceName>;
  upstreams: Partial<Record<ServiceName, string[]>>;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  redisUrl: string | undefined;
  natsUrl: string | undefined;
  natsStream: string;
  /** Event type `a.b` travels on NATS subject `<natsSubjectPrefix>.a.b`; distinct prefixes keep deployments apart. */
  natsSubjectPrefix: string;
  /**
   * How long the bus keeps a published event for groups that are new, behind or retrying (JetStream's
   * max_age; the in-process bus's history). Consumers forget handled event ids a day after that.
   */
  eventRetentionDays: number;
  /** Redis only: prepended to every cache key and channel, so deployments (or test runs) can share one Redis. */
  cacheKeyPrefix: string | undefined;
  /** Proxies whose X-Forwarded-For is believed (a gateway, a load balancer): false, true, or addresses/CIDRs. */
  trustProxy: boolean | string[];
  gateway: GatewayConfig;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  rateLimit: number;
  authRateLimit: number;
  /** Lifetime of an access token (JWT) in seconds. */
  accessTokenTtlSeconds: number;
  /** A session (refresh-token family) unused this long ends. */
  sessionIdleDays: number;
  /** A session ends this long after sign-in, however active. */
  sessionMaxDays: number;
  /** How long a spent refresh token may be presented again by a parallel retry before it counts as reuse. */
  refreshGraceSeconds: number;
  /** `iss` of access tokens; every verifier checks it. */
  jwtIssuer: string;
  /** `aud` of access tokens; every verifier checks it. */
  jwtAudience: string;
  /** Where processes without identity in-process fetch the public signing keys; undefined when identity runs here. */
  jwksUrl: string | undefined;
  /** The signing key is replaced at start once it is older than this (old public keys stay published). */
  signingKeyMaxAgeDays: number;
  socketRateLimit: number;
  mailTransport: string;
  mailFrom: string;
  egressAllowlist: string[];
  openaiApiKey: string | undefined;
  openaiBaseUrl: string | undefined;
  /** Bots: the AES-256-GCM key (32 bytes, base64 or hex) sealing provider API keys; undefined: kept in the data dir. */
  botsSecretKey: string | undefined;
  /** Bots: LLM tokens one user may spend per UTC day across all bots; 0 means no limit. */
  botsDailyTokenQuota: number;
  /** Bots: USD per million prompt/completion tokens by model, on top of the built-in table. */
  botsPrices: Record<string, { prompt: number; completion: number }>;
  /** Bots: a provider that sends no token this long after the request is given up. */
  botsFirstTokenTimeoutMs: number;
  /** Bots: the longest one reply may stream. */
  botsTotalTimeoutMs: number;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  /**
   * The longest a client may take to send one whole request (headers and body): a slow or stalled
   * sender is answered 408 and cut off instead of holding its connection for ever.
   */
  requestTimeoutMs: number;
  corsOrigins: string[] | '*';
  shutdownTimeoutMs: number;
  shutdownDelayMs: number;
  outboxPollMs: number;
  /**
   * How long an event committed by a process stays that process's to publish before any relay may: after a
   * crash, its unpublished events wait this long.
   */
  outboxLeaseMs: number;
  /** Shared secret services present to each other's internal APIs; undefined: generated into the data dir. */
  internalToken: string | undefined;
  /** The bearer /metrics requires; undefined: /metrics answers anyone. */
  metricsToken: string | undefined;
  /** Longest message body in UTF-8 bytes. */
  messageMaxBytes: number;
  /** Most members a group conversation may have, its owner included. */
  groupMaxMembers: number;
  /** Largest accepted upload in bytes. */
  uploadMaxBytes: number;
  /** Content types an upload may have, as sniffed from its bytes. */
  uploadTypes: string[];
}

/** How long a request may take to arrive whole (PARLEY_REQUEST_TIMEOUT_MS): generous for large uploads. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/** What uploads accept unless PARLEY_UPLOAD_TYPES says otherwise: images, PDFs, plain text. */
export const DEFAULT_UPLOAD_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
] as const;

/** How the gateway talks to upstream service nodes in distributed mode. */
export interface GatewayConfig {
  connectTimeoutMs: number;
  /** Longest wait for an upstream's response headers before answering 504. */
  headersTimeoutMs: number;
  /** Longest silence between two chunks of an upstream's response body (streams included). */
  bodyTimeoutMs: number;
  /** How often each upstream's /ready is checked. */
  healthIntervalMs: number;
  /** Consecutive failures that open an upstream's circuit breaker. */
  failureThreshold: number;
  /** How long an open breaker keeps an upstream out before one trial request. */
  breakerOpenMs: number;
}

/** Whether the trust function Fastify and the gateway use (proxy-addr) compiles the entry: asked, not mimicked. */
function isTrustEntry(entry: string): boolean {
  try {
    proxyAddr.compile([entry]);
    return true;
  } catch {
    return false;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Parses and validates configuration; collects every problem before failing so one run shows them all. */
export function parseConfig(env: Env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const reader = new EnvReader(env, problems);

  const environment = reader.oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const port = reader.integer('PORT', 8080, { min: 0, max: 65535 });
  const host = reader.string('HOST', '0.0.0.0');
  const dataDirRaw = reader.string('PARLEY_DATA_DIR', './data');
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);
  const services = reader.services('PARLEY_SERVICES');
  const upstreams: Partial<Record<ServiceName, string[]>> = {};
  for (const name of SERVICE_NAMES) {
    const urls = reader.urlList(`PARLEY_UPSTREAM_${name.toUpperCase()}`, ['http:', 'https:']);
    if (urls.length > 0) upstreams[name] = urls;
  }
  const databaseUrl = reader.optionalUrl('DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = reader.optionalUrl('REDIS_URL', ['redis:', 'rediss:']);
  const natsUrl = reader.optionalUrl('NATS_URL', ['nats:', 'tls:', 'ws:', 'wss:']);
  const mailTransport = reader.string('PARLEY_MAIL_TRANSPORT', 'file');
  if (mailTransport !== 'file' && !/^smtps?:\/\//.test(mailTransport)) {
    problems.push(
      `PARLEY_MAIL_TRANSPORT must be "file" or an smtp:// or smtps:// URL (got "${mailTransport}")`,
    );
  }
  const corsRaw = reader.string('PARLEY_CORS_ORIGINS', '');
  const publicUrl = reader.string('PARLEY_PUBLIC_URL', `http://localhost:${port}`);

  const config: Config = {
    environment,
    port,
    host,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    dataDir,
    services,
    upstreams,
    databaseUrl,
    databasePoolSize: reader.integer('PARLEY_DATABASE_POOL_SIZE', 10, { min: 1, max: 500 }),
    redisUrl,
    natsUrl,
    natsStream: reader.string('PARLEY_NATS_STREAM', 'PARLEY'),
    natsSubjectPrefix: reader.string('PARLEY_NATS_SUBJECT_PREFIX', 'parley'),
    eventRetentionDays: reader.integer('PARLEY_EVENT_RETENTION_DAYS', 7, { min: 1, max: 3650 }),
    cacheKeyPrefix: reader.optional('PARLEY_CACHE_PREFIX'),
    trustProxy: reader.trustProxy('PARLEY_TRUST_PROXY'),
    gateway: {
      connectTimeoutMs: reader.integer('PARLEY_GATEWAY_CONNECT_TIMEOUT_MS', 2000, { min: 10 }),
      headersTimeoutMs: reader.integer('PARLEY_GATEWAY_HEADERS_TIMEOUT_MS', 30_000, { min: 10 }),
      bodyTimeoutMs: reader.integer('PARLEY_GATEWAY_BODY_TIMEOUT_MS', 120_000, { min: 10 }),
      healthIntervalMs: reader.integer('PARLEY_GATEWAY_HEALTH_INTERVAL_MS', 2000, { min: 50 }),
      failureThreshold: reader.integer('PARLEY_GATEWAY_FAILURE_THRESHOLD', 5, { min: 1 }),
      breakerOpenMs: reader.integer('PARLEY_GATEWAY_BREAKER_OPEN_MS', 10_000, { min: 10 }),
    },
    adminEmail: reader.optional('PARLEY_ADMIN_EMAIL'),
    adminPassword: reader.optional('PARLEY_ADMIN_PASSWORD'),
    rateLimit: reader.integer('PARLEY_RATE_LIMIT', 600, { min: 1 }),
    authRateLimit: reader.integer('PARLEY_AUTH_RATE_LIMIT', 10, { min: 1 }),
    accessTokenTtlSeconds: reader.integer('PARLEY_ACCESS_TOKEN_TTL', 900, { min: 30, max: 86_400 }),
    sessionIdleDays: reader.integer('PARLEY_SESSION_IDLE_DAYS', 7, { min: 1, max: 3650 }),
    sessionMaxDays: reader.integer('PARLEY_SESSION_MAX_DAYS', 30, { min: 1, max: 3650 }),
    refreshGraceSeconds: reader.integer('PARLEY_REFRESH_GRACE_SECONDS', 5, { min: 0, max: 60 }),
    jwtIssuer: reader.string('PARLEY_JWT_ISSUER', publicUrl.replace(/\/+$/, '')),
    jwtAudience: reader.string('PARLEY_JWT_AUDIENCE', 'parley'),
    jwksUrl:
      reader.optionalUrl('PARLEY_JWKS_URL', ['http:', 'https:']) ??
      (upstreams.identity?.[0]
        ? `${upstreams.identity[0].replace(/\/+$/, '')}/.well-known/jwks.json`
        : undefined),
    signingKeyMaxAgeDays: reader.integer('PARLEY_SIGNING_KEY_MAX_AGE_DAYS', 90, { min: 1, max: 3650 }),
    socketRateLimit: reader.integer('PARLEY_SOCKET_RATE_LIMIT', 1200, { min: 1 }),
    mailTransport,
    mailFrom: reader.string('PARLEY_MAIL_FROM', 'Parley <no-reply@localhost>'),
    egressAllowlist: reader.list('PARLEY_EGRESS_ALLOWLIST'),
    openaiApiKey: reader.optional('OPENAI_API_KEY'),
    openaiBaseUrl: reader.optionalUrl('OPENAI_BASE_URL', ['http:', 'https:']),
    botsSecretKey: reader.optional('PARLEY_BOTS_SECRET_KEY'),
    botsDailyTokenQuota: reader.integer('PARLEY_BOTS_DAILY_TOKEN_QUOTA', 200_000, { min: 0 }),
    botsPrices: reader.prices('PARLEY_BOTS_PRICES'),
    botsFirstTokenTimeoutMs: reader.integer('PARLEY_BOTS_FIRST_TOKEN_TIMEOUT_MS', 20_000, {
      min: 100,
      max: 600_000,
    }),
    botsTotalTimeoutMs: reader.integer('PARLEY_BOTS_TOTAL_TIMEOUT_MS', 120_000, {
      min: 1000,
      max: 3_600_000,
    }),
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, environment === 'test' ? 'silent' : 'info'),
    bodyLimitBytes: reader.integer('PARLEY_BODY_LIMIT', 1024 * 1024, { min: 1024 }),
    requestTimeoutMs: reader.integer('PARLEY_REQUEST_TIMEOUT_MS', DEFAULT_REQUEST_TIMEOUT_MS, { min: 100 }),
    corsOrigins:
      corsRaw === '*'
        ? '*'
        : corsRaw
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
    shutdownTimeoutMs: reader.integer('PARLEY_SHUTDOWN_TIMEOUT_MS', 10_000, { min: 100 }),
    shutdownDelayMs: reader.integer('PARLEY_SHUTDOWN_DELAY_MS', 0, { min: 0 }),
    outboxPollMs: reader.integer('PARLEY_OUTBOX_POLL_MS', 250, { min: 10 }),
    outboxLeaseMs: reader.integer('PARLEY_OUTBOX_LEASE_MS', 30_000, { min: 1000, max: 3_600_000 }),
    internalToken: reader.optional('PARLEY_INTERNAL_TOKEN'),
    metricsToken: reader.optional('PARLEY_METRICS_TOKEN'),
    messageMaxBytes: reader.integer('PARLEY_MESSAGE_MAX_BYTES', 16 * 1024, { min: 1, max: 1024 * 1024 }),
    groupMaxMembers: reader.integer('PARLEY_GROUP_MAX_MEMBERS', 256, { min: 2, max: 100_000 }),
    uploadMaxBytes: reader.integer('PARLEY_UPLOAD_MAX_BYTES', 10 * 1024 * 1024, { min: 1, max: 2 ** 40 }),
    uploadTypes: reader.list('PARLEY_UPLOAD_TYPES'),
  };
  if (config.uploadTypes.length === 0) config.uploadTypes = [...DEFAULT_UPLOAD_TYPES];

  if (config.sessionIdleDays > config.sessionMaxDays) {
    problems.push('PARLEY_SESSION_IDLE_DAYS must not exceed PARLEY_SESSION_MAX_DAYS');
  }
  if (config.botsSecretKey !== undefined && decodeSecretKey(config.botsSecretKey) === undefined) {
    problems.push('PARLEY_BOTS_SECRET_KEY must be 32 bytes, base64 or hex encoded');
  }
  if (
    environment === 'production' &&
    config.services.has('bots') &&
    config.databaseUrl !== undefined &&
    config.botsSecretKey === undefined
  ) {
    // Each node has its own data dir: a key kept there would seal what the other nodes cannot open.
    problems.push('PARLEY_BOTS_SECRET_KEY must be set in production when bots share a DATABASE_URL');
  }
  if (config.metricsToken !== undefined && config.metricsToken.length < 16) {
    problems.push('PARLEY_METRICS_TOKEN must be at least 16 characters');
  }
  // Both are sent as `Authorization: Bearer <token>`, which ends at the first space: such a token would never
  // match, and every call between services (or every scrape) would fail with a 401 that names nothing.
  for (const [name, token] of [
    ['PARLEY_METRICS_TOKEN', config.metricsToken],
    ['PARLEY_INTERNAL_TOKEN', config.internalToken],
  ] as const) {
    if (token !== undefined && /\s/.test(token)) {
      problems.push(`${name} must not contain whitespace (it is sent as a bearer token)`);
    }
  }
  if ((config.adminEmail === undefined) !== (config.adminPassword === undefined)) {
    problems.push('PARLEY_ADMIN_EMAIL and PARLEY_ADMIN_PASSWORD must be set together');
  }
  if (environment === 'production') {
    if (config.corsOrigins === '*') problems.push('PARLEY_CORS_ORIGINS must not be "*" in production');
    if (config.internalToken === undefined) {
      problems.push(
        'PARLEY_INTERNAL_TOKEN must be set in production (services authenticate to each other with it)',
      );
    } else if (config.internalToken.length < 32) {
      problems.push('PARLEY_INTERNAL_TOKEN must be at least 32 characters');
    }
    if (!isAbsolute(dataDirRaw) && env.PARLEY_DATA_DIR === undefined && !config.databaseUrl) {
      problems.push(
        'production needs DATABASE_URL or an explicit absolute PARLEY_DATA_DIR to keep data and keys in',
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** A 32-byte key from base64 (std or url) or hex, or undefined when the text is neither. */
export function decodeSecretKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  const bytes = /^[0-9a-f]{64}$/i.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  return bytes.length === 32 ? bytes : undefined;
}

/** The one place in the code base that reads the process environment. */
export function readConfigFromEnvironment(): Config {
  return parseConfig(process.env);
}

/** A copy of the process environment, for a launcher that starts Parley processes with a few variables changed. */
export function environmentForChildren(
  overrides: Record<string, string>,
): Record<string, string | undefined> {
  return { ...process.env, ...overrides };
}

export function runsService(config: Config, name: ServiceName): boolean {
  return config.services.has(name);
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  integer(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  trustProxy(name: string): boolean | string[] {
    const raw = this.optional(name);
    if (raw === undefined || raw === 'false') return false;
    if (raw === 'true') return true;
    const entries = this.list(name);
    const bad = entries.filter((entry) => !isTrustEntry(entry));
    if (bad.length > 0) {
      this.problems.push(
        `${name} must be true, false, or addresses and CIDRs (or loopback, linklocal, uniquelocal) separated by commas (got "${bad.join(', ')}")`,
      );
      return false;
    }
    return entries;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }

  list(name: string): string[] {
    return (this.optional(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }

  optionalUrl(name: string, protocols: string[]): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    return this.checkUrl(name, raw, protocols) ? raw : undefined;
  }

  urlList(name: string, protocols: string[]): string[] {
    return this.list(name).filter((url) => this.checkUrl(name, url, protocols));
  }

  /** `model=prompt/completion,...`, USD per million tokens: `gpt-4o-mini=0.15/0.6`. */
  prices(name: string): Record<string, { prompt: number; completion: number }> {
    const table: Record<string, { prompt: number; completion: number }> = {};
    for (const entry of this.list(name)) {
      const match = /^([^=\s]+)=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(entry);
      if (!match) {
        this.problems.push(`${name} entries must look like model=prompt/completion (got "${entry}")`);
        continue;
      }
      table[match[1]!] = { prompt: Number(match[2]), completion: Number(match[3]) };
    }
    return table;
  }

  services(name: string): ReadonlySet<ServiceName> {
    const items = this.list(name);
    if (items.length === 0 || (items.length === 1 && items[0] === 'all')) return new Set(SERVICE_NAMES);
    const chosen = new Set<ServiceName>();
    for (const item of items) {
      if ((SERVICE_NAMES as readonly string[]).includes(item)) chosen.add(item as ServiceName);
      else
        this.problems.push(
          `${name} must be "all" or a comma list of ${SERVICE_NAMES.join(', ')} (got "${item}")`,
        );
    }
    return chosen;
  }

  private checkUrl(name: string, raw: string, protocols: string[]): boolean {
    try {
      const url = new URL(raw);
      if (protocols.includes(url.protocol)) return true;
    } catch {
      // reported below
    }
    this.problems.push(
      `${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')} (got "${raw}")`,
    );
    return false;
  }
}
