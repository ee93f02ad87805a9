import { ForwardingCache } from './forwarding-cache.ts';

export interface Gate {
  /** Resolves once the process is held at the gate. */
  reached: Promise<void>;
  /** Lets the process go on. */
  release(): void;
}

interface ArmedGate {
  key: string;
  /** Held before the call reaches the shared cache, or after it ran (its answer known, not yet acted on). */
  when: 'before' | 'after';
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
    return this.arm(key, 'after');
  }

  /** Holds the next call concerning `key` before it reaches the shared cache. */
  holdBeforeNextCall(key: string): Gate {
    return this.arm(key, 'before');
  }

  protected async forward<T>(call: () => Promise<T>, key?: string): Promise<T> {
    await this.pass('before', key);
    const result = await call();
    await this.pass('after', key);
    return result;
  }

  private arm(key: string, when: ArmedGate['when']): Gate {
    let reach = () => {};
    const reached = new Promise<void>((resolve) => {
      reach = resolve;
    });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.armed = { key, when, reach, released };
    return { reached, release };
  }

  private async pass(when: ArmedGate['when'], key: string | undefined): Promise<void> {
    const gate = this.armed;
    if (!gate || gate.when !== when || gate.key !== key) return;
    this.armed = undefined;
    gate.reach();
    await gate.released;
  }
}
