import { Counter, Gauge, Histogram, type Registry } from '@parley/kernel';

/**
 * Chat's own figures on /metrics: what is stored, how the group commit behaves (its batch sizes and commit
 * times are what ack latency follows), the sockets this process holds and how their events end. Created
 * unregistered, with the service, and registered in its process's registry when the plugin is mounted.
 */
export class ChatMetrics {
  readonly messagesStored = new Counter({
    name: 'chat_messages_stored_total',
    help: 'Messages stored (replays of an earlier send not counted), by sender type',
    labelNames: ['sender_type'] as const,
    registers: [],
  });
  readonly sendBatchSize = new Histogram({
    name: 'chat_send_batch_size',
    help: 'Sends committed together in one group-commit transaction',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [],
  });
  readonly sendCommitSeconds = new Histogram({
    name: 'chat_send_commit_seconds',
    help: 'Time a group-commit batch took to commit (what every send in it waited for its ack)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [],
  });
  readonly socketEvents = new Counter({
    name: 'chat_socket_events_total',
    help: 'Client socket events by name and outcome (ok, or the error code of the ack)',
    labelNames: ['event', 'outcome'] as const,
    registers: [],
  });
  readonly syncsWithoutDrafts = new Counter({
    name: 'chat_syncs_without_drafts_total',
    help: 'Syncs answered without drafts because the cache could not be read (draftsUnavailable)',
    registers: [],
  });
  private connectedSockets: () => number = () => 0;
  readonly socketsConnected: Gauge = new Gauge({
    name: 'chat_sockets_connected',
    help: 'Socket.IO connections open on this process',
    registers: [],
    collect: (): void => this.socketsConnected.set(this.connectedSockets()),
  });
  /** Bound counters by event and outcome: a hot path should not hash a label set per event. */
  private readonly eventCounters = new Map<string, { inc(): void }>();

  register(registry: Registry): void {
    registry.registerMetric(this.messagesStored);
    registry.registerMetric(this.sendBatchSize);
    registry.registerMetric(this.sendCommitSeconds);
    registry.registerMetric(this.socketEvents);
    registry.registerMetric(this.socketsConnected);
    registry.registerMetric(this.syncsWithoutDrafts);
  }

  countSocketsWith(count: () => number): void {
    this.connectedSockets = count;
  }

  /** The counter of one event's calls with one outcome, to keep and increment. */
  socketEventCounter(event: string, outcome: string): { inc(): void } {
    const key = `${event}\u0000${outcome}`;
    let counter = this.eventCounters.get(key);
    if (!counter) {
      counter = this.socketEvents.labels({ event, outcome });
      this.eventCounters.set(key, counter);
    }
    return counter;
  }
}
