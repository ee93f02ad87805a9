import type { Bus, PublishableEvent, Subscription, SubscriptionOptions } from '@parley/bus';
import type { EventEnvelope } from '@parley/kernel';

/**
 * Stands between identity's outbox relay and the bus: while a test holds them, identity's events are kept
 * back, then delivered in the order the test picks, as a redelivery after a backoff, two chat processes in
 * one group or two identity relays would deliver them.
 */
export class HoldingBus implements Bus {
  private held: EventEnvelope[] | undefined;

  constructor(private readonly inner: Bus) {}

  /** From now on identity's events wait in `held` until `release`. */
  hold(): void {
    this.held = [];
  }

  /** The held events once every one of `types` (in any order, with repeats) is among them. */
  async heldOnce(types: readonly string[], timeoutMs = 10_000): Promise<EventEnvelope[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const held = this.held ?? [];
      const left = [...held.map((event) => event.type)];
      const complete = types.every((type) => {
        const at = left.indexOf(type);
        if (at === -1) return false;
        left.splice(at, 1);
        return true;
      });
      if (complete) return [...held];
      if (Date.now() > deadline)
        throw new Error(`identity did not publish ${types.join(', ')} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops holding and delivers `events` (some or all of the held ones, or old ones again) in this order. */
  async release(events: readonly EventEnvelope[]): Promise<void> {
    this.held = undefined;
    for (const event of events) await this.inner.publish(event);
  }

  async publish(event: PublishableEvent): Promise<void> {
    if (this.held && event.type.startsWith('identity.')) {
      this.held.push('json' in event ? (JSON.parse(event.json) as EventEnvelope) : event);
      return;
    }
    await this.inner.publish(event);
  }

  subscribe(options: SubscriptionOptions): Promise<Subscription> {
    return this.inner.subscribe(options);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
