/** The least time between two relay rounds started by commits. */
export const RELAY_MIN_INTERVAL_MS = 25;

/**
 * Wakes the outbox relay on commits, at most once per interval. A quiet system gets its events out at
 * once (bots answer a user's message as soon as it is stored). Under load a send batch commits every few
 * milliseconds, and a relay round per commit (four round trips and an UPDATE per event, for a handful of
 * events) cost the database more than the sends themselves; then one round per interval carries every
 * batch committed in it.
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
