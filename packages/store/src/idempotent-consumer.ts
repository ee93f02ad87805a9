import { type Bus, DEFAULT_EVENT_RETENTION_MS, type Subscription } from '@parley/bus';
import type { EventEnvelope, Logger } from '@parley/kernel';
import { and, eq, inArray, lt } from 'drizzle-orm';
import type { Database, Tx } from './database.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { EventTables } from './outbox-tables.ts';

export interface IdempotentConsumerOptions {
  bus: Bus;
  database: Database;
  tables: Pick<EventTables, 'processedEvents'>;
  /** Durable consumer group, also the key under which handled event ids are remembered. */
  group: string;
  subjects: string[];
  logger: Logger;
  maxDeliver?: number;
  backoffMs?: (attempt: number) => number;
  /** Runs inside the transaction that records the event as handled: both commit, or neither. */
  handle: (tx: Tx, event: EventEnvelope) => Promise<void>;
  /**
   * How long a handled event id is remembered (default: the bus's retention plus a day). Past the bus's
   * retention the event cannot be delivered again, so there is nothing left to recognise it by.
   */
  keepProcessedMs?: number;
  /** How often the subscription deletes the ids it no longer needs, in batches (default hourly). */
  pruneEveryMs?: number;
  /**
   * The service's dead letters: where this consumer's go, and the box its dead-letter routes replay from
   * (a box of the consumer's own would hold the rows but know no handler to replay them with).
   */
  deadLetters: DeadLetters;
}

const DAY_MS = 24 * 3600 * 1000;
const DEFAULT_PRUNE_EVERY_MS = 3600 * 1000;
/** The first prune comes a little after start, not with it: starting is busy enough. */
const FIRST_PRUNE_MAX_MS = 5 * 60_000;
const PRUNE_BATCH = 1000;

/**
 * Subscribes so that each event changes the consumer's data exactly once: the event id is recorded in the
 * same transaction as the handler's writes, a redelivered event finds it and is skipped, and an event
 * that keeps failing ends as a dead-letter row instead of blocking the group. Recorded ids are deleted
 * once the bus can no longer deliver their event, so the table does not grow forever.
 */
export async function subscribeIdempotent(options: IdempotentConsumerOptions): Promise<Subscription> {
  const { database, tables, group, logger } = options;
  const handleOnce = async (event: EventEnvelope) => {
    await database.db.transaction(async (tx) => {
      const claimed = await tx
        .insert(tables.processedEvents)
        .values({ consumer: group, eventId: event.id })
        .onConflictDoNothing()
        .returning({ eventId: tables.processedEvents.eventId });
      if (claimed.length === 0) return;
      await options.handle(tx, event);
    });
  };
  const subscription = await options.deadLetters.subscribe(options.bus, {
    group,
    subjects: options.subjects,
    ...(options.maxDeliver ? { maxDeliver: options.maxDeliver } : {}),
    ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
    handler: handleOnce,
  });
  const pruner = new ProcessedEventsPruner({
    database,
    table: tables.processedEvents,
    consumer: group,
    keepMs: options.keepProcessedMs ?? (options.bus.retentionMs ?? DEFAULT_EVENT_RETENTION_MS) + DAY_MS,
    everyMs: options.pruneEveryMs ?? DEFAULT_PRUNE_EVERY_MS,
    logger,
  });
  pruner.start();
  return {
    close: async () => {
      await pruner.stop();
      await subscription.close();
    },
  };
}

/**
 * Deletes one consumer's handled event ids recorded before `olderThan`, `batchSize` rows per statement so
 * that no statement holds many locks or runs long; rows another process is deleting are skipped.
 * Returns how many were deleted.
 */
export async function pruneProcessedEvents(options: {
  database: Database;
  table: EventTables['processedEvents'];
  consumer: string;
  olderThan: Date;
  batchSize?: number;
  /** Checked between batches: a stopping consumer leaves the rest to the next prune. */
  stopping?: () => boolean;
}): Promise<number> {
  const { database, table, consumer, olderThan } = options;
  const batchSize = options.batchSize ?? PRUNE_BATCH;
  let total = 0;
  for (;;) {
    const batch = database.db
      .select({ eventId: table.eventId })
      .from(table)
      .where(and(eq(table.consumer, consumer), lt(table.processedAt, olderThan)))
      .limit(batchSize)
      .for('update', { skipLocked: true });
    const deleted = await database.db
      .delete(table)
      .where(and(eq(table.consumer, consumer), inArray(table.eventId, batch)))
      .returning({ eventId: table.eventId });
    total += deleted.length;
    if (deleted.length < batchSize || options.stopping?.()) return total;
  }
}

/** Runs pruneProcessedEvents now and then, off the handling path, for as long as its subscription lives. */
class ProcessedEventsPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly options: {
      database: Database;
      table: EventTables['processedEvents'];
      consumer: string;
      keepMs: number;
      everyMs: number;
      logger: Logger;
    },
  ) {}

  start(): void {
    this.schedule(Math.min(this.options.everyMs, FIRST_PRUNE_MAX_MS));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    // Jittered, so that the processes of a deployment don't all prune at the same moment.
    this.timer = setTimeout(
      () => {
        this.running = this.prune().finally(() => {
          this.running = undefined;
          this.schedule(this.options.everyMs);
        });
      },
      delayMs * (0.5 + Math.random()),
    );
    // Pruning is housekeeping: it must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  private async prune(): Promise<void> {
    const { database, table, consumer, keepMs, logger } = this.options;
    try {
      const deleted = await pruneProcessedEvents({
        database,
        table,
        consumer,
        olderThan: new Date(Date.now() - keepMs),
        stopping: () => this.stopped,
      });
      if (deleted > 0) logger.debug({ group: consumer, deleted }, 'pruned handled event ids');
    } catch (error) {
      // The next round tries again; a failed prune only leaves rows for a while longer.
      logger.warn({ err: error, group: consumer }, 'could not prune handled event ids');
    }
  }
}
