import type { EventEnvelope } from '@parley/kernel';

export interface Delivery {
  /** 1 on the first delivery, 2 on the first redelivery, ... */
  attempt: number;
}

export interface SubscriptionOptions {
  /**
   * Durable consumer group: every event is handled by exactly one subscriber of the group across all
   * processes, and the group's position survives restarts (NATS) or the process's life (in-process). A
   * group's first subscription starts with the oldest event the bus still keeps (`Bus.retentionMs`), not
   * with the next one: what was published before a group existed (a service deployed, or started, after
   * another) is not lost to it. Handlers are idempotent, so that replay is safe.
   */
  group: string;
  /** Event types or NATS-style patterns over them: `chat.message.created`, `chat.*.created`, `identity.>`. */
  subjects: string[];
  /** Resolving acknowledges the event; throwing asks for a redelivery after a backoff. */
  handler: (event: EventEnvelope, delivery: Delivery) => Promise<void>;
  /**
   * Deliveries before the event is given up (default 5). The subscription enforces it, not the server: a
   * delivery that arrives past it (its last attempt ended with its process, or the limit was lowered) goes
   * to `onDeadLetter` without running the handler, so an event is never dropped unseen.
   */
  maxDeliver?: number;
  /** Delay before redelivery number `attempt + 1` (default: exponential from 100 ms, capped at 30 s). */
  backoffMs?: (attempt: number) => number;
  /**
   * Called once when an event failed `maxDeliver` times, or arrives past `maxDeliver` (`attempts` is then the
   * deliveries before this one); it is then acknowledged and never redelivered. The bus logs every dead
   * letter itself, so this is only the durable record.
   */
  onDeadLetter?: (event: EventEnvelope, error: unknown, attempts: number) => Promise<void>;
}

/**
 * What a bus that holds published events in this process's memory (the in-process bus) tells their
 * publisher. Such a bus loses what it holds when the process dies or stops, so the publisher keeps its own
 * durable copy of each event (its outbox row) until the event has settled.
 */
export interface VolatileEvents {
  /**
   * Calls `listener` with an event's id once every consumer group that was subscribed when it was
   * published (or, under `holdForGroups`, before the hold was released) has acknowledged it or dead-lettered
   * it: synchronously within `publish` when no group wanted it and no hold is open. An id published several
   * times settles once all its copies have. Returns the remover.
   */
  onSettled(listener: (eventId: string) => void): () => void;
  /** True from an event's publish until it settles: it is still waiting, retrying or being handled here. */
  holds(eventId: string): boolean;
  /**
   * For the process that owns the bus, whose services subscribe their groups one after another while the
   * first ones may already publish: until the returned function is called, no event published from now on
   * settles for want of a group. A group subscribing meanwhile is handed it from the bus's history, and that
   * copy counts like those of the groups subscribed at its publish; once released, an event settles when
   * all its copies have (at once if no group took it).
   */
  holdForGroups(): () => void;
}

export interface Subscription {
  /** Stops receiving; waits for the handler in progress. The durable position is kept. */
  close(): Promise<void>;
}

/**
 * An event already in its wire form: the JSON of its envelope, with the id and type a bus routes it by
 * (they must be the envelope's own). A publisher that has the JSON at hand (chat's send statement writes
 * it) gives this, and the bus does not serialize the event again.
 */
export interface SerializedEvent {
  readonly id: string;
  readonly type: string;
  readonly json: string;
}

/** What a bus publishes: an envelope, or one already serialized. */
export type PublishableEvent = EventEnvelope | SerializedEvent;

export function wireForm(event: PublishableEvent): SerializedEvent {
  return 'json' in event ? event : { id: event.id, type: event.type, json: JSON.stringify(event) };
}

/**
 * The Bus port carries durable domain events between services. Application code never publishes
 * directly: it writes to its outbox, and only what committed is published, by the writing process right
 * after its commit (DirectPublisher) or by the outbox relay (so an event exists iff its transaction
 * committed). Delivery is at least once; consumers make handling idempotent.
 */
export interface Bus {
  /**
   * How long after publishing an event this bus may still deliver it (to a new group, a redelivery);
   * older events are gone. A consumer remembering handled event ids longer than this never meets one it has
   * forgotten. Unset: DEFAULT_EVENT_RETENTION_MS.
   */
  readonly retentionMs?: number;
  publish(event: PublishableEvent): Promise<void>;
  subscribe(options: SubscriptionOptions): Promise<Subscription>;
  ping(): Promise<void>;
  /** Stops every subscription (waiting for handlers in progress) and closes connections. */
  close(): Promise<void>;
  /**
   * Absent: `publish` resolves once the event is persisted beyond this process (JetStream), so its
   * publisher may forget it then. Present: the bus keeps published events only in this process's memory
   * until they settle, and says when they have (the in-process bus).
   */
  readonly volatileEvents?: VolatileEvents;
}

export const DEFAULT_MAX_DELIVER = 5;

/** Longer than any redelivery backoff or outage a consumer should catch up from; bounds what a bus stores. */
export const DEFAULT_EVENT_RETENTION_MS = 7 * 24 * 3600 * 1000;

export function defaultBackoffMs(attempt: number): number {
  return Math.min(30_000, 100 * 2 ** (attempt - 1));
}
