import { createLogger, type EventEnvelope, type Logger, subjectMatches } from '@parley/kernel';
import type { Bus, Subscription, SubscriptionOptions } from './bus.ts';
import { MemoryDurable } from './memory-durable.ts';
import { MemorySubscription } from './memory-subscription.ts';
import { assertEventType } from './subjects.ts';
import { resolveSubscription } from './subscription-settings.ts';

export interface MemoryBusOptions {
  logger?: Logger;
}

/**
 * The Bus for a single process (laptop, tests). Groups behave like JetStream durables created with deliver
 * policy "new" and live as long as the bus. Re-publishing an event id delivers it again: de-duplication is
 * left to idempotent consumers, as the port's at-least-once contract allows.
 */
export class MemoryBus implements Bus {
  private readonly logger: Logger;
  private readonly durables = new Map<string, MemoryDurable>();
  private readonly subscriptions = new Set<MemorySubscription>();
  private sequence = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: MemoryBusOptions = {}) {
    this.logger = options.logger ?? createLogger({ level: 'info', name: 'bus' });
  }

  async publish(event: EventEnvelope): Promise<void> {
    this.assertOpen();
    assertEventType(event.type);
    const payload = JSON.stringify(event);
    this.sequence += 1;
    for (const durable of this.durables.values()) {
      if (subjectMatches(durable.pattern, event.type))
        durable.offer({ seq: this.sequence, payload, attempt: 1 });
    }
  }

  async subscribe(options: SubscriptionOptions): Promise<Subscription> {
    this.assertOpen();
    const settings = resolveSubscription(options, this.logger);
    const durables = settings.subjects.map((pattern) => this.durable(settings.group, pattern));
    const subscription = new MemorySubscription(settings, durables, (closed) => {
      this.subscriptions.delete(closed);
    });
    this.subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private durable(group: string, pattern: string): MemoryDurable {
    const key = JSON.stringify([group, pattern]);
    let durable = this.durables.get(key);
    if (!durable) {
      durable = new MemoryDurable(pattern);
      this.durables.set(key, durable);
    }
    return durable;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('Bus is closed');
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    for (const durable of this.durables.values()) durable.dispose();
    this.durables.clear();
  }
}
