export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface GroupCommitOptions<I, R> {
  /**
   * Commits a batch in one transaction and returns one outcome per item, in order; an item that cannot be
   * written (its conversation closed, say) gets its own failed outcome without failing the others. Throwing
   * means the transaction as a whole failed.
   */
  commit: (items: I[]) => Promise<Outcome<R>[]>;
  /**
   * Longest an item waits for company when its lane is idle (default 0: until the event loop's next turn,
   * which gathers every send that arrived with it; under load, batches gather while the lane commits).
   */
  maxWaitMs?: number;
  /** Most items in one transaction (default 256). */
  maxBatch?: number;
  /** Lanes committing side by side (default 1), each with at most one batch in flight. */
  lanes?: number;
  /**
   * Items with the same key always share a lane (default: one key for all). Keyed by conversation, lanes
   * lock disjoint rows, so their batches never queue behind each other's locks and their commits share
   * the database's WAL flushes; within a lane, batches commit in submission order.
   */
  laneOf?: (item: I) => string;
  /**
   * Runs once a batch's callers all have their answers and have acted on them (a turn of the event loop
   * later), with what they were told: for work that must not delay an answer, such as publishing events.
   */
  afterAnswering?: (outcomes: Outcome<R>[]) => void;
}

interface Pending<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

interface Lane<I, R> {
  queue: Pending<I, R>[];
  /** Set while the lane waits for company before flushing. */
  cancelWait: (() => void) | undefined;
  busy: boolean;
}

/**
 * Group commit: concurrent submissions share one transaction, so a burst costs one round of locks, one
 * multi-row insert and one commit (one WAL flush) instead of one per item, while every caller still gets
 * its own result only after its data is durable. While a lane's batch commits, the lane's new items gather
 * into its next batch. When a whole batch fails, its items are retried one by one, so a single bad item
 * costs only itself.
 */
export class GroupCommitter<I, R> {
  private readonly lanes: Lane<I, R>[];
  private waiting = 0;
  private inFlight = 0;
  private readonly maxWaitMs: number;
  private readonly maxBatch: number;

  constructor(private readonly options: GroupCommitOptions<I, R>) {
    this.maxWaitMs = options.maxWaitMs ?? 0;
    this.maxBatch = options.maxBatch ?? 256;
    this.lanes = Array.from({ length: Math.max(1, options.lanes ?? 1) }, () => ({
      queue: [],
      cancelWait: undefined,
      busy: false,
    }));
  }

  submit(item: I): Promise<R> {
    const lane = this.lanes[this.laneIndex(item)]!;
    return new Promise<R>((resolve, reject) => {
      lane.queue.push({ item, resolve, reject });
      this.waiting++;
      this.schedule(lane);
    });
  }

  /** Items waiting or committing. */
  get pending(): number {
    return this.waiting + this.inFlight;
  }

  private laneIndex(item: I): number {
    const key = this.options.laneOf?.(item);
    if (key === undefined || this.lanes.length === 1) return 0;
    let hash = 0;
    for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) | 0;
    return Math.abs(hash) % this.lanes.length;
  }

  private schedule(lane: Lane<I, R>): void {
    if (lane.busy) return; // the finishing batch picks the queue up
    if (lane.queue.length >= this.maxBatch) {
      this.flush(lane);
      return;
    }
    if (lane.cancelWait) return;
    if (this.maxWaitMs > 0) {
      const timer = setTimeout(() => this.flush(lane), this.maxWaitMs);
      lane.cancelWait = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(() => this.flush(lane));
      lane.cancelWait = () => clearImmediate(immediate);
    }
  }

  private flush(lane: Lane<I, R>): void {
    lane.cancelWait?.();
    lane.cancelWait = undefined;
    if (lane.busy || lane.queue.length === 0) return;
    const batch = lane.queue.splice(0, this.maxBatch);
    this.waiting -= batch.length;
    this.inFlight += batch.length;
    lane.busy = true;
    void this.commit(batch).then((settle) => {
      lane.busy = false;
      // The lane's next batch goes to the database first; this batch's callers (acks, fan-out: CPU work
      // on this thread) run on the next turn of the event loop, while the database works.
      this.flush(lane);
      setImmediate(() => {
        this.inFlight -= batch.length;
        const told = settle();
        // A turn later: the callers' continuations (acks, fan-out) have all run by then.
        const after = this.options.afterAnswering;
        if (after) setImmediate(() => after(told));
      });
    });
  }

  /**
   * Commits a batch; resolves, once it is durable (or failed for good), to what answers its callers (and
   * returns, in batch order, what each was told).
   */
  private async commit(batch: Pending<I, R>[]): Promise<() => Outcome<R>[]> {
    let outcomes: Outcome<R>[];
    try {
      outcomes = await this.options.commit(batch.map((pending) => pending.item));
    } catch (error) {
      if (batch.length === 1) {
        return () => {
          batch[0]!.reject(error);
          return [{ ok: false, error }];
        };
      }
      // One item may have poisoned the batch: retry each alone, in order, so only that one fails.
      const settles: (() => Outcome<R>[])[] = [];
      for (const pending of batch) settles.push(await this.commit([pending]));
      return () => settles.flatMap((settle) => settle());
    }
    return () =>
      batch.map((pending, index) => {
        const outcome: Outcome<R> = outcomes[index] ?? {
          ok: false,
          error: new Error('group commit returned no outcome for an item'),
        };
        if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(outcome.error);
        return outcome;
      });
  }
}
