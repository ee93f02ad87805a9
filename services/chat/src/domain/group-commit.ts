export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface GroupCommitOptions<I, R> {
  /**
   * Commits a batch in one transaction and returns one outcome per item, in order; an item that cannot be
   * written (its conversation closed, say) gets its own failed outcome without failing the others. Throwing
   * means the transaction as a whole failed.
   */
  commit: (items: I[]) => Promise<Outcome<R>[]>;
  /** Longest an item waits for company when nothing is in flight (default 1 ms). */
  maxWaitMs?: number;
  /** Most items in one transaction (default 256). */
  maxBatch?: number;
  /** Batches committing at the same time (default 4): while they run, new items gather into the next one. */
  maxInFlight?: number;
}

interface Pending<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: concurrent submissions share one transaction, so a burst costs one round of locks, one
 * multi-row insert and one commit (one WAL flush) instead of one per item, while every caller still gets
 * its own result only after its data is durable. When a whole batch fails, its items are retried one by
 * one, so a single bad item costs only itself.
 */
export class GroupCommitter<I, R> {
  private queue: Pending<I, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly maxWaitMs: number;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly options: GroupCommitOptions<I, R>) {
    this.maxWaitMs = options.maxWaitMs ?? 1;
    this.maxBatch = options.maxBatch ?? 256;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting or committing. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  private schedule(): void {
    if (this.inFlight >= this.maxInFlight) return; // a finishing batch picks the queue up
    if (this.queue.length >= this.maxBatch) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.flush();
      });
    }
  }

  private async run(batch: Pending<I, R>[]): Promise<void> {
    let outcomes: Outcome<R>[];
    try {
      outcomes = await this.options.commit(batch.map((pending) => pending.item));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // One item may have poisoned the batch: retry each alone so only that one fails.
      await Promise.all(batch.map((pending) => this.run([pending])));
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (!outcome) pending.reject(new Error('group commit returned no outcome for an item'));
      else if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
