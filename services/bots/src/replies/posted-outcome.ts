import type { ReplyOutcome } from '@parley/contracts';
import { QUOTA_NOTICE } from '../domain/usage-meter.ts';
import { NOTICES } from './notices.ts';

/**
 * How a provider reply ended, told from the one message its run posted (a run that died before recording
 * it): the notices streamReply and the quota check post say it failed or ran out of quota; anything else
 * is an answer. Whether the provider said its answer was complete died with the run, so `answered`.
 */
export function postedOutcome(body: string): ReplyOutcome {
  if (body === QUOTA_NOTICE) return 'quota';
  if (body === NOTICES.failed || body.endsWith(NOTICES.cutOff)) return 'failed';
  return 'answered';
}
