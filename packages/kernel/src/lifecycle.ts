import type { Logger } from './logger.ts';

type Step = { name: string; stop: () => Promise<void> };

/**
 * Ordered start-up resources, closed in reverse on shutdown, bounded by a deadline: whatever was created
 * first (the database) is closed last, after everything that uses it.
 */
export class Lifecycle {
  private readonly steps: Step[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  onStop(name: string, stop: () => Promise<void>): void {
    this.steps.push({ name, stop });
  }

  stop(): Promise<void> {
    this.stopping ??= this.runSteps();
    return this.stopping;
  }

  private async runSteps(): Promise<void> {
    for (const step of [...this.steps].reverse()) {
      try {
        await step.stop();
        this.logger.debug({ step: step.name }, 'stopped');
      } catch (error) {
        this.logger.error({ err: error, step: step.name }, 'stopping failed');
      }
    }
  }
}

export interface SignalOptions {
  logger: Logger;
  timeoutMs: number;
  /** Called first: flip readiness so load balancers stop sending before we stop listening. */
  beforeStop?: () => void;
  delayMs?: number;
  exit?: (code: number) => void;
}

/** SIGTERM/SIGINT: readiness 503, optional drain delay, ordered stop, exit 0 — or exit 1 at the deadline. */
export function exitOnSignals(lifecycle: Lifecycle, options: SignalOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      options.logger.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    received = true;
    options.logger.info({ signal }, 'shutting down');
    options.beforeStop?.();
    const deadline = setTimeout(() => {
      options.logger.error({ timeoutMs: options.timeoutMs }, 'shutdown deadline passed: exiting');
      exit(1);
    }, options.timeoutMs);
    deadline.unref();
    const delay = new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 0));
    delay
      .then(() => lifecycle.stop())
      .then(() => {
        clearTimeout(deadline);
        options.logger.info('shutdown complete');
        exit(0);
      });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
