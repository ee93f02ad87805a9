import type { Logger } from '@parley/kernel';
import type { Bus } from './bus.ts';
import { MemoryBus } from './memory-bus.ts';
import { NatsBus } from './nats-bus.ts';

export interface CreateBusOptions {
  /** Set: JetStream, shared by every process. Unset: in-process, for a single-process deployment. */
  natsUrl?: string;
  stream?: string;
  subjectPrefix?: string;
  /** How long the bus keeps events for groups that are new, behind or retrying (default 7 days). */
  retentionMs?: number;
  logger: Logger;
}

export async function createBus(options: CreateBusOptions): Promise<Bus> {
  const logger = options.logger.child({ component: 'bus' });
  const { retentionMs } = options;
  if (!options.natsUrl) return new MemoryBus({ logger, retentionMs });
  return NatsBus.connect({
    url: options.natsUrl,
    stream: options.stream,
    subjectPrefix: options.subjectPrefix,
    retentionMs,
    logger,
  });
}
