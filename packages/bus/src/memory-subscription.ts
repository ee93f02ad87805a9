import type { EventEnvelope } from '@parley/kernel';
import type { Subscription } from './bus.ts';
import type { MemoryDurable, MemoryWorker, QueuedEvent } from './memory-durable.ts';
import { pastMaxDeliverError, type SubscriptionSettings } from './subscription-settings.ts';

interface InboxEntry {
  durable: MemoryDurable;
  item: QueuedEvent;
}

/** One subscriber of the in-process bus: handles its share of the group's events one at a time, in order. */
export class MemorySubscription implements Subscription, MemoryWorker {
  private inbox: InboxEntry[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly settings: SubscriptionSettings,
    private readonly durables: MemoryDurable[],
    private readonly onClosed: (subscription: MemorySubscription) => void,
  ) {}

  start(): void {
    for (const durable of this.durables) durable.attach(this);
  }

  enqueue(durable: MemoryDurable, item: QueuedEvent): void {
    this.inbox.push({ durable, item });
    this.wake();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private wake(): void {
    if (this.closed || this.draining || this.scheduled) return;
    // Handlers always start on a later turn of the event loop: the publisher (the outbox relay, inside a
    // transaction on a single-connection database) must get its promise back before any handler runs.
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      // `draining` is set before the first handler starts: one that publishes to its own group before its
      // first await wakes this subscription, and must not start a second drain beside this one.
      this.draining = Promise.resolve()
        .then(() => this.drain())
        .finally(() => {
          this.draining = undefined;
          if (this.inbox.length > 0) this.wake();
        });
    });
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const next = this.inbox.shift();
      if (!next) return;
      await this.deliver(next);
    }
  }

  private async deliver({ durable, item }: InboxEntry): Promise<void> {
    const { handler, maxDeliver, backoffMs, deadLetter } = this.settings;
    if (item.attempt > maxDeliver) {
      // Parked by a subscription of the group that allowed more attempts: this one's limit applies, as on NATS.
      await deadLetter(decode(item), pastMaxDeliverError(item.attempt, maxDeliver), item.attempt - 1);
      durable.settle(item);
      return;
    }
    try {
      await handler(decode(item), { attempt: item.attempt });
    } catch (error) {
      if (item.attempt >= maxDeliver) {
        await deadLetter(decode(item), error, item.attempt);
        durable.settle(item);
        return;
      }
      durable.retryLater({ ...item, attempt: item.attempt + 1 }, backoffMs(item.attempt));
      return;
    }
    durable.settle(item);
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const unstarted = this.inbox;
    this.inbox = [];
    for (const durable of this.durables) {
      durable.detach(
        this,
        unstarted.filter((entry) => entry.durable === durable).map((entry) => entry.item),
      );
    }
    await this.draining;
    this.onClosed(this);
  }
}

function decode(item: QueuedEvent): EventEnvelope {
  return JSON.parse(item.payload) as EventEnvelope;
}
