import type { Executor } from '@parley/store';
import { seeds } from '../schema/schema.ts';

export class SeedsRepository {
  /** True the first time a seed name is marked: the caller then does the one-time work in the same transaction. */
  async mark(executor: Executor, name: string): Promise<boolean> {
    const inserted = await executor
      .insert(seeds)
      .values({ name })
      .onConflictDoNothing()
      .returning({ name: seeds.name });
    return inserted.length > 0;
  }
}
