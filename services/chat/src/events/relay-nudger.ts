/** The least time between two relay rounds started by commits. */
export const RELAY_MIN_INTERVAL_MS = 25;

/**
 * Wakes the outbox relay on commits of events it must publish (those chat does not publish itself:
 * written without a lease, or handed back), at most once per interval. A quiet system gets them out at
 * once; under load, when commits come every few milliseconds, a relay round per commit would cost the
 * database more than the writes themselves, so one round per interval carries every batch committed in it.
 */
export class RelayNudger {
  private timer: NodeJS.Timeout | undefined;
  private lastWake = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly wake: () => void,
    private readonly minIntervalMs = RELAY_MIN_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  nudge(): void {
    if (this.timer) return;
    const wait = this.lastWake + this.minIntervalMs - this.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, wait);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.lastWake = this.now();
    this.wake();
  }
}
