import { createLogger, type Logger, subjectMatches } from '@parley/kernel';
import {
  type Bus,
  DEFAULT_EVENT_RETENTION_MS,
  type PublishableEvent,
  type Subscription,
  type SubscriptionOptions,
  type VolatileEvents,
  wireForm,
} from './bus.ts';
import { MemoryDurable, type QueuedEvent } from './memory-durable.ts';
import { MemorySubscription } from './memory-subscription.ts';
import { assertEventType } from './subjects.ts';
import { resolveSubscription } from './subscription-settings.ts';

export interface MemoryBusOptions {
  logger?: Logger;
  /** Events older than this are not replayed to a new group (default 7 days, like the NATS stream). */
  retentionMs?: number;
  /** At most this many of the latest events are kept for groups yet to subscribe (default 10,000). */
  historyLimit?: number;
}

const TARGET_TYPES_KEPT = 1024;

interface PublishedEvent {
  seq: number;
  id: string;
  type: string;
  payload: string;
  publishedAt: number;
}

/**
 * The Bus for a single process (laptop, tests). Groups behave like JetStream durables and live as long as
 * the bus. Like a new durable on a stream with max_age, a group's first subscription is first handed the
 * events published on this bus before it (within `retentionMs`, and the last `historyLimit` of them: in one
 * process, that covers a service whose consumers start after another service has published). Re-publishing
 * an event id delivers it again: de-duplication is left to idempotent consumers, as the port's
 * at-least-once contract allows.
 *
 * Published events live only in this process's memory, so the bus reports when each has settled
 * (`volatileEvents`): until then its publisher keeps the outbox row, the copy a crash or a stop leaves.
 * While the process's services are still subscribing (`holdForGroups`), an event waits for the groups to
 * come as well, and the history keeps every event for them, past its limits.
 */
export class MemoryBus implements Bus {
  readonly volatileEvents: VolatileEvents = {
    onSettled: (listener) => {
      this.settledListeners.add(listener);
      return () => this.settledListeners.delete(listener);
    },
    holds: (eventId) => this.held.has(eventId),
    holdForGroups: () => this.holdForGroups(),
  };
  readonly retentionMs: number;
  private readonly historyLimit: number;
  private readonly logger: Logger;
  /** Oldest first, from `historyStart` on (the entries before it are dropped, and compacted away in bulk). */
  private history: PublishedEvent[] = [];
  private historyStart = 0;
  private readonly durables = new Map<string, MemoryDurable>();
  /** Event type → the durables whose pattern it matches; dropped whenever a durable is added. */
  private readonly targetsByType = new Map<string, MemoryDurable[]>();
  private readonly subscriptions = new Set<MemorySubscription>();
  /**
   * Event id → how many copies of it are not settled yet: one per matching durable per publish, and one for
   * the groups still to come while it is awaiting them.
   */
  private readonly held = new Map<string, number>();
  private readonly settledListeners = new Set<(eventId: string) => void>();
  /** Open holdForGroups calls; while there is one, the history keeps everything for the groups to come. */
  private openHolds = 0;
  /** Ids published under a hold: each has one extra count in `held`, dropped when the last hold is released. */
  private readonly awaitingGroups = new Set<string>();
  private sequence = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: MemoryBusOptions = {}) {
    this.logger = options.logger ?? createLogger({ level: 'info', name: 'bus' });
    this.retentionMs = options.retentionMs ?? DEFAULT_EVENT_RETENTION_MS;
    this.historyLimit = options.historyLimit ?? 10_000;
    if (!(this.retentionMs > 0)) throw new Error(`retentionMs must be positive, got ${this.retentionMs}`);
    if (!Number.isInteger(this.historyLimit) || this.historyLimit < 0) {
      throw new Error(`historyLimit must be a non-negative integer, got ${this.historyLimit}`);
    }
  }

  async publish(event: PublishableEvent): Promise<void> {
    this.assertOpen();
    const { id, type, json: payload } = wireForm(event);
    assertEventType(type);
    this.sequence += 1;
    this.remember({ seq: this.sequence, id, type, payload, publishedAt: Date.now() });
    const targets = this.targetsOf(type);
    const awaited = this.openHolds > 0 && !this.awaitingGroups.has(id);
    if (awaited) this.awaitingGroups.add(id);
    const copies = targets.length + (awaited ? 1 : 0);
    if (copies === 0) {
      // No group wants it: nothing is kept, so it has settled, unless an earlier copy is still held.
      if (!this.held.has(id)) this.settled(id);
      return;
    }
    // Counted before any group can settle it: handlers run on a later turn, but this keeps that irrelevant.
    this.held.set(id, (this.held.get(id) ?? 0) + copies);
    for (const durable of targets) {
      durable.offer({ seq: this.sequence, id, payload, attempt: 1 });
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

  private targetsOf(type: string): MemoryDurable[] {
    let targets = this.targetsByType.get(type);
    if (!targets) {
      targets = [...this.durables.values()].filter((durable) => subjectMatches(durable.pattern, type));
      // Types are a handful; should a publisher make up new ones without end, the memo starts over.
      if (this.targetsByType.size >= TARGET_TYPES_KEPT) this.targetsByType.clear();
      this.targetsByType.set(type, targets);
    }
    return targets;
  }

  private durable(group: string, pattern: string): MemoryDurable {
    const key = JSON.stringify([group, pattern]);
    let durable = this.durables.get(key);
    if (!durable) {
      durable = new MemoryDurable(pattern, (item) => this.settle(item));
      this.durables.set(key, durable);
      this.targetsByType.clear();
      // A new group: what was published before it, parked in order until its subscription attaches. An
      // event still held elsewhere waits for this group too before its outbox row goes; one already
      // settled has no row left to keep, so its copy here settles nothing.
      this.forget(Date.now());
      for (let at = this.historyStart; at < this.history.length; at++) {
        const { seq, id, type, payload } = this.history[at]!;
        if (!subjectMatches(pattern, type)) continue;
        const held = this.held.get(id);
        if (held !== undefined) this.held.set(id, held + 1);
        durable.offer({ seq, id, payload, attempt: 1, ...(held === undefined ? { replayed: true } : {}) });
      }
    }
    return durable;
  }

  private remember(published: PublishedEvent): void {
    this.history.push(published);
    this.forget(published.publishedAt);
  }

  /** Drops what is past the age or count limit; the array is compacted once half of it is dropped. */
  private forget(now: number): void {
    if (this.openHolds > 0) return;
    const { history } = this;
    while (
      this.historyStart < history.length &&
      (history.length - this.historyStart > this.historyLimit ||
        now - history[this.historyStart]!.publishedAt > this.retentionMs)
    ) {
      this.historyStart += 1;
    }
    if (this.historyStart > 1024 && this.historyStart * 2 > history.length) {
      this.history = history.slice(this.historyStart);
      this.historyStart = 0;
    }
  }

  private holdForGroups(): () => void {
    this.openHolds += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.openHolds -= 1;
      if (this.openHolds > 0) return;
      const awaited = [...this.awaitingGroups];
      this.awaitingGroups.clear();
      for (const id of awaited) this.copyDone(id);
      this.forget(Date.now());
    };
  }

  private settle(item: QueuedEvent): void {
    if (!item.replayed) this.copyDone(item.id);
  }

  /** The event has settled when every copy of it is done. */
  private copyDone(eventId: string): void {
    const left = (this.held.get(eventId) ?? 1) - 1;
    if (left > 0) {
      this.held.set(eventId, left);
      return;
    }
    this.held.delete(eventId);
    this.settled(eventId);
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
    this.targetsByType.clear();
    if (this.held.size > 0) {
      // Their publishers kept the outbox rows (volatileEvents): the next start publishes them again.
      this.logger.info({ events: this.held.size }, 'bus closed with events not yet settled');
    }
    this.held.clear();
    this.awaitingGroups.clear();
    this.settledListeners.clear();
    this.history = [];
    this.historyStart = 0;
  }
}
