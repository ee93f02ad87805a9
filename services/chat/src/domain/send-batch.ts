import { isUniqueViolation, withSerializationRetry } from '@parley/store';
import type { DomainDeps } from './deps.ts';
import type { Outcome } from './group-commit.ts';
import { toMessage } from './mappers.ts';
import { type PreparedSend, refusal, type SendResult, toBatchItem, writtenMessage } from './send-plan.ts';

export type { PreparedSend, SendOrigin, SendResult } from './send-plan.ts';

const clientKey = (send: PreparedSend) => `${send.senderId}\u0000${send.clientMessageId}`;

/**
 * Commits a batch of sends in one statement, one round trip, whatever its size: every check, the seqs
 * and every write happen in it, under the conversations' locks (repositories/send-statements.ts). Each
 * send gets its own outcome; nobody hears back before the statement has committed.
 */
export async function commitSendBatch(
  deps: DomainDeps,
  items: PreparedSend[],
): Promise<Outcome<SendResult>[]> {
  const createdAt = new Date();
  const batchItems = items.map(toBatchItem);
  const { leaseMs } = deps.outbox;
  const run = () =>
    withSerializationRetry(async () => {
      const once = await deps.send.sendBatch(deps.database.db, batchItems, createdAt, leaseMs, false);
      if (once.proceeded) return once;
      // It reopens a conversation or joins an agent (rare): again, with a snapshot taken under the locks.
      const conversationIds = [...new Set(items.map((item) => item.conversationId))];
      return deps.database.db.transaction(async (tx) => {
        await deps.conversations.lockForSend(tx, conversationIds);
        return deps.send.sendBatch(tx, batchItems, createdAt, leaseMs, true);
      });
    });
  let result: Awaited<ReturnType<typeof run>>;
  try {
    result = await run();
  } catch (error) {
    // A batch of another lane stored one of these client keys meanwhile (the sender used it in another
    // conversation at the same moment): run again, and the statement sees it.
    if (!isUniqueViolation(error)) throw error;
    result = await run();
  }
  // Events with a lease are published by MessageService once every sender has the answer.
  if (leaseMs === undefined) deps.outbox.committed();
  const eventOf = new Map(result.events.map((event) => [event.envelope.id, event]));

  const firstWithKey = new Map<string, number>();
  // Agents who joined with this batch: the statement's member list predates them.
  const audience = new Map([...result.audience].map(([id, members]) => [id, new Set(members)]));
  items.forEach((item, index) => {
    if (item.clientMessageId !== null && !firstWithKey.has(clientKey(item)))
      firstWithKey.set(clientKey(item), index);
    if (result.verdicts[index]?.joins && result.verdicts[index]?.verdict === 'write')
      audience.set(item.conversationId, (audience.get(item.conversationId) ?? new Set()).add(item.senderId));
  });
  const outcomes: Outcome<SendResult>[] = [];
  const decide = (index: number): Outcome<SendResult> => {
    const item = items[index]!;
    const verdict = result.verdicts[index];
    switch (verdict?.verdict) {
      case 'write': {
        const memberIds = [...(audience.get(item.conversationId) ?? [])];
        return {
          ok: true,
          value: {
            message: writtenMessage(item, verdict, createdAt),
            created: true,
            memberIds,
            event: eventOf.get(batchItems[index]!.eventId),
            conversationEvent: eventOf.get(batchItems[index]!.updateEventId),
          },
        };
      }
      case 'replay': {
        const original = result.originals.get(index)!;
        return { ok: true, value: { message: toMessage(original), created: false, memberIds: [] } };
      }
      case 'repeat': {
        const firstIndex = firstWithKey.get(clientKey(item))!;
        if (items[firstIndex]!.conversationId !== item.conversationId)
          return { ok: false, error: refusal('reused') };
        const first = outcomes[firstIndex]!;
        return first.ok
          ? {
              ok: true,
              value: {
                ...first.value,
                created: false,
                memberIds: [],
                event: undefined,
                conversationEvent: undefined,
              },
            }
          : first;
      }
      case 'hidden':
      case 'closed':
      case 'blocked':
      case 'handed_off':
      case 'reused':
        return { ok: false, error: refusal(verdict.verdict) };
      default:
        return { ok: false, error: new Error('send was not processed') };
    }
  };
  // In batch order: a repeat's first occurrence is always decided before it.
  for (let index = 0; index < items.length; index++) outcomes.push(decide(index));
  return outcomes;
}
