import type { Database } from '@parley/store';
import type { BlockRepository } from '../repositories/block-repository.ts';

/**
 * What other in-process services ask identity about blocks. Services in other processes keep their own
 * read model from the `identity.block.created` / `.deleted` events instead.
 */
export interface BlockDirectory {
  /** True when `blockerId` has blocked `blockedId`. */
  hasBlocked(blockerId: string, blockedId: string): Promise<boolean>;
  /** True when either user blocked the other. */
  eitherBlocked(a: string, b: string): Promise<boolean>;
}

export function createBlockDirectory(database: Database, blocks: BlockRepository): BlockDirectory {
  return {
    hasBlocked: (blockerId, blockedId) => blocks.exists(database.db, blockerId, blockedId),
    eitherBlocked: (a, b) => blocks.existsBetween(database.db, a, b),
  };
}
