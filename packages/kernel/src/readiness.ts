export type ReadinessCheck = () => Promise<void>;

export interface ReadinessReport {
  ready: boolean;
  status: 'ready' | 'not_ready' | 'shutting_down';
  checks: Record<string, { ok: boolean; error?: string; ms: number }>;
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

  async report(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await this.run(check)] as const),
    );
    const checks = Object.fromEntries(entries);
    const allOk = entries.every(([, result]) => result.ok);
    const status = this.shuttingDown ? 'shutting_down' : allOk ? 'ready' : 'not_ready';
    return { ready: status === 'ready', status, checks };
  }

  private async run(check: ReadinessCheck): Promise<{ ok: boolean; error?: string; ms: number }> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
      return { ok: true, ms: Math.round(performance.now() - started) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, error: message, ms: Math.round(performance.now() - started) };
    } finally {
      clearTimeout(timer);
    }
  }
}
