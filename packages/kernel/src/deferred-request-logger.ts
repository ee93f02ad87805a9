import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1];
type LevelMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The parent is the process's pino logger; Fastify's type does not carry pino's level check. */
type ParentLogger = FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };

/**
 * A request's logger that makes its pino child (request id bound, redaction compiled in) on the first line
 * it actually writes. Fastify asks for a child on every request; below the process's level most requests
 * never write one, and building the child was about 5 µs of each proxied request's CPU in the gateway.
 * A line at a level the parent writes goes through the real child, so what is written is unchanged.
 */
class DeferredRequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: ParentLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildOptions,
  ) {}

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.realChild().level = level;
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }

  error(...args: unknown[]): void {
    this.write('error', args);
  }

  warn(...args: unknown[]): void {
    this.write('warn', args);
  }

  info(...args: unknown[]): void {
    this.write('info', args);
  }

  debug(...args: unknown[]): void {
    this.write('debug', args);
  }

  trace(...args: unknown[]): void {
    this.write('trace', args);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.realChild().child(bindings, options);
  }

  private write(level: LevelMethod, args: unknown[]): void {
    // Below the parent's threshold nothing would be written, so no child is needed for it.
    if (this.made === undefined && this.parent.isLevelEnabled?.(level) === false) return;
    (this.realChild()[level] as (...line: unknown[]) => void)(...args);
  }

  private realChild(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }
}

export const deferredRequestLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (
  logger,
  bindings,
  options,
) =>
  // A route's own log level (options.level) is the child's to judge, not the parent's.
  options.level === undefined
    ? new DeferredRequestLogger(logger, bindings, options)
    : logger.child(bindings, options);
