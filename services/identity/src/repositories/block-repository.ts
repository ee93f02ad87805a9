import type { Executor } from '@parley/store';
import { and, desc, eq, or } from 'drizzle-orm';
import { blocks } from '../schema/blocks.ts';

export class BlockRepository {
  /** True when the block is new. */
  async insert(executor: Executor, blockerId: string, blockedId: string): Promise<boolean> {
    const rows = await executor
      .insert(blocks)
      .values({ blockerId, blockedId })
      .onConflictDoNothing()
      .returning({ blockerId: blocks.blockerId });
    return rows.length > 0;
  }

  /** True when a block was removed. */
  async delete(executor: Executor, blockerId: string, blockedId: string): Promise<boolean> {
    const rows = await executor
      .delete(blocks)
      .where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId)))
      .returning({ blockerId: blocks.blockerId });
    return rows.length > 0;
  }

  async exists(executor: Executor, blockerId: string, blockedId: string): Promise<boolean> {
    const [row] = await executor
      .select({ blockerId: blocks.blockerId })
      .from(blocks)
      .where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId)));
    return row !== undefined;
  }

  /** True when either user blocked the other. */
  async existsBetween(executor: Executor, a: string, b: string): Promise<boolean> {
    const [row] = await executor
      .select({ blockerId: blocks.blockerId })
      .from(blocks)
      .where(
        or(
          and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)),
          and(eq(blocks.blockerId, b), eq(blocks.blockedId, a)),
        ),
      )
      .limit(1);
    return row !== undefined;
  }

  async listBlocked(
    executor: Executor,
    blockerId: string,
  ): Promise<{ blockedId: string; createdAt: Date }[]> {
    return executor
      .select({ blockedId: blocks.blockedId, createdAt: blocks.createdAt })
      .from(blocks)
      .where(eq(blocks.blockerId, blockerId))
      .orderBy(desc(blocks.createdAt));
  }
}
