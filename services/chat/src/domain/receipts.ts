import { ChatEvents, type ReceiptEventData, type ReceiptKind } from '@parley/contracts';
import { conflict, createEvent, type Principal } from '@parley/kernel';
import { hiddenConversation, staffWorksUnjoined } from './access.ts';
import type { DomainDeps } from './deps.ts';
import { actorOf } from './messages.ts';

/** Marks remembered for ordering pushes; the oldest are forgotten first (they are long settled). */
const PUSHED_MARKS_KEPT = 10_000;

/** Delivered/read receipts, stored as per-member high-water marks; only a rise is news. */
export class ReceiptService {
  /** The highest mark pushed per conversation, user and kind, least recently raised first. */
  private readonly pushed = new Map<string, number>();

  constructor(private readonly deps: DomainDeps) {}

  async mark(principal: Principal, conversationId: string, kind: ReceiptKind, seq: number): Promise<void> {
    // Everything the push needs is read before the transaction: a query between the commit and the push
    // would let two receipts that committed in order reach the members in the other order, the mark
    // going backwards.
    // Stored either way (it is the reader's own position), but across a block only the reader's tabs hear.
    const [memberRows, silenced] = await Promise.all([
      this.deps.conversations.membersOf([conversationId]),
      this.deps.users.blockSilences(principal.userId, conversationId),
    ]);
    const memberIds = memberRows.map((row) => row.userId);
    if (!memberIds.includes(principal.userId)) throw await this.notAMember(principal, conversationId);
    const raised = await this.deps.outbox.transaction(async (tx) => {
      const marks = await this.deps.conversations.raiseReceipt(
        tx,
        conversationId,
        principal.userId,
        kind,
        seq,
      );
      if (!marks) return null;
      const data: ReceiptEventData = {
        conversationId,
        userId: principal.userId,
        kind,
        seq: kind === 'read' ? marks.readSeq : marks.deliveredSeq,
      };
      await this.deps.outbox.add(
        tx,
        createEvent(ChatEvents.receiptUpdated, data, { actor: actorOf(principal) }),
      );
      return data;
    });
    if (!raised) return;
    // Marks only rise, but two commits' pushes can still cross on their way out of this process: a mark
    // below one already pushed is old news, and sending it would move the member's mark backwards.
    const key = `${conversationId} ${principal.userId} ${kind}`;
    if ((this.pushed.get(key) ?? -1) >= raised.seq) return;
    this.pushed.delete(key);
    this.pushed.set(key, raised.seq);
    if (this.pushed.size > PUSHED_MARKS_KEPT) this.pushed.delete(this.pushed.keys().next().value as string);
    this.deps.notifier.toUsers(silenced ? [principal.userId] : memberIds, 'receipt', {
      conversationId,
      userId: raised.userId,
      seq: raised.seq,
      kind,
    });
  }

  /**
   * Staff working a conversation they have not joined see it, so "no such conversation" would be untrue;
   * but a mark belongs to a member, which their first message there makes them.
   */
  private async notAMember(principal: Principal, conversationId: string): Promise<Error> {
    if (!(await staffWorksUnjoined(this.deps.conversations, principal, conversationId)))
      return hiddenConversation();
    return conflict(
      'Receipts are kept for members; your first message in this conversation makes you one.',
      'not_a_member',
    );
  }
}
