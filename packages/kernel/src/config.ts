import { isAbsolute, resolve } from 'node:path';

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
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  rateLimit: number;
  authRateLimit: number;
  socketRateLimit: number;
  mailTransport: string;
  mailFrom: string;
  egressAllowlist: string[];
  openaiApiKey: string | undefined;
  openaiBaseUrl: string | undefined;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  corsOrigins: string[] | '*';
  shutdownTimeoutMs: number;
  shutdownDelayMs: number;
  outboxPollMs: number;
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
    adminEmail: reader.optional('PARLEY_ADMIN_EMAIL'),
    adminPassword: reader.optional('PARLEY_ADMIN_PASSWORD'),
    rateLimit: reader.integer('PARLEY_RATE_LIMIT', 600, { min: 1 }),
    authRateLimit: reader.integer('PARLEY_AUTH_RATE_LIMIT', 10, { min: 1 }),
    socketRateLimit: reader.integer('PARLEY_SOCKET_RATE_LIMIT', 1200, { min: 1 }),
    mailTransport,
    mailFrom: reader.string('PARLEY_MAIL_FROM', 'Parley <no-reply@localhost>'),
    egressAllowlist: reader.list('PARLEY_EGRESS_ALLOWLIST'),
    openaiApiKey: reader.optional('OPENAI_API_KEY'),
    openaiBaseUrl: reader.optionalUrl('OPENAI_BASE_URL', ['http:', 'https:']),
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, environment === 'test' ? 'silent' : 'info'),
    bodyLimitBytes: reader.integer('PARLEY_BODY_LIMIT', 1024 * 1024, { min: 1024 }),
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
  };

  if ((config.adminEmail === undefined) !== (config.adminPassword === undefined)) {
    problems.push('PARLEY_ADMIN_EMAIL and PARLEY_ADMIN_PASSWORD must be set together');
  }
  if (environment === 'production') {
    if (config.corsOrigins === '*') problems.push('PARLEY_CORS_ORIGINS must not be "*" in production');
    if (!isAbsolute(dataDirRaw) && env.PARLEY_DATA_DIR === undefined && !config.databaseUrl) {
      problems.push(
        'production needs DATABASE_URL or an explicit absolute PARLEY_DATA_DIR to keep data and keys in',
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The one place in the code base that reads the process environment. */
export function readConfigFromEnvironment(): Config {
  return parseConfig(process.env);
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
