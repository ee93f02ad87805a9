import type { Cache } from '../../cache.ts';

export interface ContractContext {
  /** The cache made once for the suite; each test uses keys of its own, so tests cannot interfere. */
  cache(): Cache;
  /** For tests that need a second instance, or one to close; they close what they make. */
  make(): Promise<Cache>;
  sharesStateAcrossInstances: boolean;
}
