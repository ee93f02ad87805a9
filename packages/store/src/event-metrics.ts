import { Gauge, type Logger, type Registry } from '@parley/kernel';
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from './database.ts';
import type { EventTables } from './outbox-tables.ts';

export interface EventMetricsSource {
  /** The service whose schema holds the tables: the `service` label. */
  service: string;
  database: Database;
  tables: Pick<EventTables, 'outbox' | 'deadLetters'>;
  logger: Logger;
}

interface Gauges {
  pending: Gauge<'service'>;
  oldest: Gauge<'service'>;
  deadLetters: Gauge<'service' | 'consumer'>;
}

/** Services sharing a process share its registry, where a metric name may exist once: one set of gauges each. */
const gaugesOf = new WeakMap<Registry, { gauges: Gauges; sources: EventMetricsSource[] }>();

/**
 * What an operator alerts on in the event pipeline, read from the service's own tables at scrape time:
 * events committed but not yet published (and how long the oldest has waited: a broker outage or a stuck
 * relay shows as a growing age), and events a consumer gave up on, which otherwise only the log mentions.
 */
export function registerEventMetrics(registry: Registry, source: EventMetricsSource): void {
  const existing = gaugesOf.get(registry);
  if (existing) {
    existing.sources.push(source);
    return;
  }
  const sources = [source];
  // A scrape collects its metrics side by side: the three gauges share one reading of every source.
  let reading: Promise<void> | undefined;
  const collect = () => {
    reading ??= collectAll(gauges, sources).finally(() => {
      reading = undefined;
    });
    return reading;
  };
  const gauges: Gauges = {
    pending: new Gauge({
      name: 'outbox_pending_events',
      help: 'Events committed to a service’s outbox and not yet published to the bus',
      labelNames: ['service'] as const,
      registers: [registry],
      collect,
    }),
    oldest: new Gauge({
      name: 'outbox_oldest_pending_seconds',
      help: 'Age of the oldest unpublished event in a service’s outbox (0 when it is empty)',
      labelNames: ['service'] as const,
      registers: [registry],
      collect,
    }),
    deadLetters: new Gauge({
      name: 'dead_letters',
      help: 'Events a consumer gave up on after its retries, kept in the service’s dead_letters table',
      labelNames: ['service', 'consumer'] as const,
      registers: [registry],
      collect,
    }),
  };
  gaugesOf.set(registry, { gauges, sources });
}

async function collectAll(gauges: Gauges, sources: readonly EventMetricsSource[]): Promise<void> {
  // Consumers whose dead letters were cleared must disappear, not linger at their last count.
  gauges.deadLetters.reset();
  await Promise.all(sources.map((source) => collectOne(gauges, source)));
}

async function collectOne(gauges: Gauges, source: EventMetricsSource): Promise<void> {
  const { service, database, tables } = source;
  try {
    // One round trip per service and scrape: the backlog, and the dead letters by consumer as JSON.
    const [reading] = await queryRows<{ pending: number; oldest: number; dead: Record<string, number> }>(
      database.db,
      sql`select count(*)::int as pending,
        coalesce(extract(epoch from now() - min(${tables.outbox.createdAt})), 0)::float8 as oldest,
        (select coalesce(json_object_agg(d.consumer, d.count), '{}'::json) from (
          select ${tables.deadLetters.consumer} as consumer, count(*)::int as count
          from ${tables.deadLetters} group by 1) d) as dead
        from ${tables.outbox} where ${tables.outbox.publishedAt} is null`,
    );
    gauges.pending.set({ service }, reading?.pending ?? 0);
    gauges.oldest.set({ service }, Math.max(0, reading?.oldest ?? 0));
    for (const [consumer, count] of Object.entries(reading?.dead ?? {}))
      gauges.deadLetters.set({ service, consumer }, count);
  } catch (error) {
    // A scrape must not fail with the database: the process's other metrics still tell what is going on.
    gauges.pending.remove({ service });
    gauges.oldest.remove({ service });
    source.logger.warn({ err: error, service }, 'event metrics could not be read');
  }
}
