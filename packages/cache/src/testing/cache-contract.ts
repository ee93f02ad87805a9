import { after, before, describe } from 'node:test';
import type { Cache } from '../cache.ts';
import type { ContractContext } from './contract/context.ts';
import { describeCounters } from './contract/counters.ts';
import { describeLifecycle } from './contract/lifecycle.ts';
import { describeMembers } from './contract/members.ts';
import { describePubSub } from './contract/pubsub.ts';
import { describeValues } from './contract/values.ts';

export interface CacheContractOptions {
  /**
   * Whether two caches from `make` see each other's keys and messages: true for Redis (same URL and
   * prefix, as separate processes would be), false for memory (each instance is a process of its own).
   * The suite checks whichever is claimed.
   */
  sharesStateAcrossInstances: boolean;
}

/** The behaviour every Cache adapter must have; each adapter's test file runs it against a real instance. */
export function runCacheContract(
  name: string,
  make: () => Promise<Cache>,
  options: CacheContractOptions,
): void {
  describe(`${name} (Cache contract)`, () => {
    let cache: Cache | undefined;
    before(async () => {
      cache = await make();
    });
    after(async () => {
      await cache?.close();
    });

    const context: ContractContext = {
      cache: () => {
        if (!cache) throw new Error('The contract cache is made in `before`; it is not available yet');
        return cache;
      },
      make,
      sharesStateAcrossInstances: options.sharesStateAcrossInstances,
    };
    describeValues(context);
    describeCounters(context);
    describeMembers(context);
    describePubSub(context);
    describeLifecycle(context);
  });
}
