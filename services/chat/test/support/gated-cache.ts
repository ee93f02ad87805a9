import { type CacheOperation, ForwardingCache } from './forwarding-cache.ts';

export interface Gate {
  /** Resolves once the process is held at the gate. */
  reached: Promise<void>;
  /** Lets the process go on. */
  release(): void;
}

/** Before the call reaches the shared cache, or after it ran (its answer known, not yet acted on). */
type Moment = 'before' | 'after';

/** The calls that only read: whatever a process writes after one may rest on its answer. */
const READS: ReadonlySet<CacheOperation> = new Set(['get', 'members']);

interface ArmedGate {
  key: string;
  /** Whether the process is held at this moment of this call. */
  holds(moment: Moment, operation: CacheOperation): boolean;
  reach(): void;
  released: Promise<void>;
}

/**
 * Holds one process at a chosen call to the shared cache, so the test can let other processes act in
 * between: one interleaving forced out of the many that timing alone would pick, the same on every run.
 */
export class GatedCache extends ForwardingCache {
  private armed: ArmedGate | undefined;

  /** Holds the next call concerning `key` once it has run against the shared cache. */
  holdAfterNextCall(key: string): Gate {
    return this.arm(key, (moment) => moment === 'after');
  }

  /** Holds the next call concerning `key` before it reaches the shared cache. */
  holdBeforeNextCall(key: string): Gate {
    return this.arm(key, (moment) => moment === 'before');
  }

  /**
   * Holds the process between what it last learnt of `key` and its next write there: after a read of it
   * returns, or before any other call concerning it reaches the shared cache, whichever comes first. A
   * write that compares and stores in one step is held before it, so whatever another process does
   * meanwhile is there for it to compare with; a read followed by a write is held between the two.
   */
  holdBeforeNextWrite(key: string): Gate {
    return this.arm(key, (moment, operation) =>
      READS.has(operation) ? moment === 'after' : moment === 'before',
    );
  }

  protected async forward<T>(operation: CacheOperation, call: () => Promise<T>, key?: string): Promise<T> {
    await this.pass('before', operation, key);
    const result = await call();
    await this.pass('after', operation, key);
    return result;
  }

  private arm(key: string, holds: ArmedGate['holds']): Gate {
    let reach = () => {};
    const reached = new Promise<void>((resolve) => {
      reach = resolve;
    });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.armed = { key, holds, reach, released };
    return { reached, release };
  }

  private async pass(moment: Moment, operation: CacheOperation, key: string | undefined): Promise<void> {
    const gate = this.armed;
    if (!gate || gate.key !== key || !gate.holds(moment, operation)) return;
    this.armed = undefined;
    gate.reach();
    await gate.released;
  }
}
