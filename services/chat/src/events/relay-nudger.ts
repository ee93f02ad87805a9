/** How long after a commit the outbox relay wakes: events still leave within milliseconds. */
export const RELAY_NUDGE_DELAY_MS = 25;

/**
 * Wakes the outbox relay a moment after commits instead of at each one. Under load a send batch commits
 * every few milliseconds, and a relay round per commit (four round trips and an UPDATE per event, for a
 * handful of events) cost the database more than the sends themselves; one round per delay window carries
 * every batch committed in it.
 */
export class RelayNudger {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly wake: () => void,
    private readonly delayMs = RELAY_NUDGE_DELAY_MS,
  ) {}

  nudge(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, this.delayMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
