import type { EventEnvelope } from '@parley/kernel';
import type { Database, Executor, Tx } from './database.ts';
import type { EventTables } from './outbox-tables.ts';

/**
 * Writes domain events in the same transaction as the change they describe; after commit it nudges the
 * relay so events leave within milliseconds rather than at the next poll.
 */
export class Outbox {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly database: Database,
    private readonly tables: Pick<EventTables, 'outbox'>,
  ) {}

  async add(executor: Executor, ...events: EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    await executor
      .insert(this.tables.outbox)
      .values(events.map((envelope) => ({ eventId: envelope.id, type: envelope.type, envelope })));
  }

  /** Runs `work` in a transaction and signals the relay once it has committed. */
  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const result = await this.database.db.transaction(work);
    this.committed();
    return result;
  }

  committed(): void {
    for (const listener of this.listeners) listener();
  }

  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
