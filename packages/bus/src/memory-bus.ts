import { createLogger, type EventEnvelope, type Logger, subjectMatches } from '@parley/kernel';
import type { Bus, Subscription, SubscriptionOptions, VolatileEvents } from './bus.ts';
import { MemoryDurable, type QueuedEvent } from './memory-durable.ts';
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
 *
 * Published events live only in this process's memory, so the bus reports when each has settled
 * (`volatileEvents`): until then its publisher keeps the outbox row, the copy a crash or a stop leaves.
 */
export class MemoryBus implements Bus {
  readonly volatileEvents: VolatileEvents = {
    onSettled: (listener) => {
      this.settledListeners.add(listener);
      return () => this.settledListeners.delete(listener);
    },
    holds: (eventId) => this.held.has(eventId),
  };
  private readonly logger: Logger;
  private readonly durables = new Map<string, MemoryDurable>();
  private readonly subscriptions = new Set<MemorySubscription>();
  /** Event id → how many group copies of it are not settled yet (one per matching durable per publish). */
  private readonly held = new Map<string, number>();
  private readonly settledListeners = new Set<(eventId: string) => void>();
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
    const targets: MemoryDurable[] = [];
    for (const durable of this.durables.values()) {
      if (subjectMatches(durable.pattern, event.type)) targets.push(durable);
    }
    if (targets.length === 0) {
      // No group wants it: nothing is kept, so it has settled, unless an earlier copy is still held.
      if (!this.held.has(event.id)) this.settled(event.id);
      return;
    }
    // Counted before any group can settle it: handlers run on a later turn, but this keeps that irrelevant.
    this.held.set(event.id, (this.held.get(event.id) ?? 0) + targets.length);
    for (const durable of targets) {
      durable.offer({ seq: this.sequence, id: event.id, payload, attempt: 1 });
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
      durable = new MemoryDurable(pattern, (item) => this.settle(item));
      this.durables.set(key, durable);
    }
    return durable;
  }

  /** One group is done with one copy of an event; the event has settled when every copy is. */
  private settle(item: QueuedEvent): void {
    const left = (this.held.get(item.id) ?? 1) - 1;
    if (left > 0) {
      this.held.set(item.id, left);
      return;
    }
    this.held.delete(item.id);
    this.settled(item.id);
  }

  private settled(eventId: string): void {
    for (const listener of this.settledListeners) {
      try {
        listener(eventId);
      } catch (error) {
        // A listener's failure must not surface in the handler loop or the publisher that settled it.
        this.logger.error({ err: error, eventId }, 'settled-event listener failed');
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('Bus is closed');
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    for (const durable of this.durables.values()) durable.dispose();
    this.durables.clear();
    if (this.held.size > 0) {
      // Their publishers kept the outbox rows (volatileEvents): the next start publishes them again.
      this.logger.info({ events: this.held.size }, 'bus closed with events not yet settled');
    }
    this.held.clear();
    this.settledListeners.clear();
  }
}
