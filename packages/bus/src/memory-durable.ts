/** One published event as a consumer group holds it: serialized like on the wire, so handlers can't share objects. */
export interface QueuedEvent {
  /** Publish order, to put parked events back in sequence. */
  seq: number;
  /** The event's id, to report it settled (VolatileEvents) once the group is done with it. */
  id: string;
  payload: string;
  attempt: number;
  /** A copy handed to a group created after the event had settled: no outbox row waits on it. */
  replayed?: boolean;
}

export interface MemoryWorker {
  enqueue(durable: MemoryDurable, item: QueuedEvent): void;
}

/**
 * The in-process counterpart of a JetStream durable consumer: one per (group, subject pattern). It hands
 * events round-robin to the group's live subscriptions and parks them while the group has none, so a
 * subscription that closes and reopens (a restart within the process) resumes where the group was.
 * Parked events stay in memory, unbounded, until the group has a subscriber again or the bus closes.
 */
export class MemoryDurable {
  private readonly workers: MemoryWorker[] = [];
  private parked: QueuedEvent[] = [];
  private readonly retries = new Map<NodeJS.Timeout, QueuedEvent>();
  private turn = 0;

  constructor(
    readonly pattern: string,
    /** The group has acknowledged or dead-lettered the event: it no longer needs it. */
    private readonly onSettled: (item: QueuedEvent) => void,
  ) {}

  offer(item: QueuedEvent): void {
    const worker = this.nextWorker();
    if (worker) worker.enqueue(this, item);
    else this.park(item);
  }

  attach(worker: MemoryWorker): void {
    this.workers.push(worker);
    const parked = this.parked;
    this.parked = [];
    for (const item of parked) this.offer(item);
  }

  /** `unstarted` are events the worker had queued but not begun: they go to the group's other workers. */
  detach(worker: MemoryWorker, unstarted: QueuedEvent[]): void {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
    if (this.workers.length === 0) {
      // With nobody left to receive them, waiting timers would only keep the process alive; the events
      // keep their attempt count and go to the next subscription of the group straight away.
      for (const [timer, item] of this.retries) {
        clearTimeout(timer);
        this.park(item);
      }
      this.retries.clear();
    }
    for (const item of unstarted) this.offer(item);
  }

  retryLater(item: QueuedEvent, delayMs: number): void {
    if (this.workers.length === 0) {
      this.park(item);
      return;
    }
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      this.offer(item);
    }, delayMs);
    this.retries.set(timer, item);
  }

  /** The group is done with the event (handled, or given up on): nothing of it is kept here. */
  settle(item: QueuedEvent): void {
    this.onSettled(item);
  }

  dispose(): void {
    for (const timer of this.retries.keys()) clearTimeout(timer);
    this.retries.clear();
    this.parked = [];
  }

  private nextWorker(): MemoryWorker | undefined {
    if (this.workers.length === 0) return undefined;
    this.turn %= this.workers.length;
    const worker = this.workers[this.turn];
    this.turn += 1;
    return worker;
  }

  private park(item: QueuedEvent): void {
    // Usually in order (a new group's replay, events published while the group is away): append.
    const last = this.parked.at(-1);
    if (!last || last.seq < item.seq) {
      this.parked.push(item);
      return;
    }
    const at = this.parked.findIndex((other) => other.seq > item.seq);
    if (at < 0) this.parked.push(item);
    else this.parked.splice(at, 0, item);
  }
}
