/**
 * Who reads the report. `/ready` is anonymous (probes, load balancers, anyone on the internet at the edge),
 * so what a check shows everyone must not map the internal network; an operator, who presented the
 * deployment's internal token, may see internal addresses too.
 */
export interface ReadinessAudience {
  operator: boolean;
}

/**
 * Resolves when the dependency is usable. It may resolve with a detail (shown in the report) and
 * `degraded: true` when it works at reduced capacity (some of a service's nodes down); rejecting means
 * not usable, and a check may attach the same detail to its error as `error.detail` (a ReadinessFailure
 * carries one). The detail is written for the audience it is given.
 */
export type ReadinessCheck = (
  audience: ReadinessAudience,
) => Promise<ReadinessDetail | undefined> | Promise<unknown>;

/**
 * A check's failure told for anyone: its message is shown in every report. Any other error is a driver's
 * own words (`connect ECONNREFUSED 10.0.3.7:5432`, a file path), shown to an operator only.
 */
export class ReadinessFailure extends Error {
  constructor(
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'ReadinessFailure';
  }
}

/** What a failed check says to anyone but an operator when its error is not a ReadinessFailure. */
const UNDISCLOSED_FAILURE = 'unavailable';

export interface ReadinessDetail {
  degraded?: boolean;
  detail?: unknown;
}

export interface CheckResult {
  ok: boolean;
  error?: string;
  ms: number;
  degraded?: boolean;
  detail?: unknown;
}

export interface ReadinessReport {
  ready: boolean;
  status: 'ready' | 'not_ready' | 'shutting_down';
  /** Present and true when every check passed but some work at reduced capacity. */
  degraded?: boolean;
  checks: Record<string, CheckResult>;
}

/** What `/ready` asks: every dependency this process needs, each bounded by a timeout. */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private shuttingDown = false;

  constructor(private readonly timeoutMs = 2000) {}

  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async report(audience: ReadinessAudience = { operator: false }): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await this.run(check, audience)] as const),
    );
    const checks = Object.fromEntries(entries);
    const allOk = entries.every(([, result]) => result.ok);
    const status = this.shuttingDown ? 'shutting_down' : allOk ? 'ready' : 'not_ready';
    const degraded = entries.some(([, result]) => result.degraded === true);
    return { ready: status === 'ready', status, ...(degraded ? { degraded } : {}), checks };
  }

  private async run(check: ReadinessCheck, audience: ReadinessAudience): Promise<CheckResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        check(audience),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new ReadinessFailure(`no answer within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
      return {
        ok: true,
        ms: Math.round(performance.now() - started),
        ...((result ?? {}) as ReadinessDetail),
      };
    } catch (error) {
      const disclosed = audience.operator || error instanceof ReadinessFailure;
      const message = error instanceof Error ? error.message : String(error);
      // A driver's error may carry the server's own words in `detail` (pg's DatabaseError does): like its
      // message, that is for operators; a ReadinessFailure's detail is written for its audience.
      const detail = disclosed ? (error as { detail?: unknown } | null)?.detail : undefined;
      return {
        ok: false,
        error: disclosed ? message : UNDISCLOSED_FAILURE,
        ms: Math.round(performance.now() - started),
        ...(detail === undefined ? {} : { detail }),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
