import { ChatEvents, type ReceiptEventData, type ReceiptKind } from '@parley/contracts';
import { createEvent, type Principal } from '@parley/kernel';
import { hiddenConversation, silencedByBlock } from './access.ts';
import type { DomainDeps } from './deps.ts';
import { actorOf } from './messages.ts';

/** Delivered/read receipts, stored as per-member high-water marks; only a rise is news. */
export class ReceiptService {
  constructor(private readonly deps: DomainDeps) {}

  async mark(principal: Principal, conversationId: string, kind: ReceiptKind, seq: number): Promise<void> {
    const member = await this.deps.conversations.findMember(conversationId, principal.userId);
    if (!member) throw hiddenConversation();
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
      // Read here, not after the commit: a query between commit and push would let two receipts that
      // committed in order reach the members in the other order, their mark going backwards.
      const memberRows = await this.deps.conversations.membersOf([conversationId], tx);
      return { data, memberRows };
    });
    if (!raised) return;
    const { data, memberRows } = raised;
    const memberIds = memberRows.map((row) => row.userId);
    // Stored either way (it is the reader's own position), but across a block only the reader's tabs hear.
    const silenced = await silencedByBlock(this.deps, principal.userId, conversationId, memberIds);
    this.deps.notifier.toUsers(silenced ? [principal.userId] : memberIds, 'receipt', {
      conversationId,
      userId: data.userId,
      seq: data.seq,
      kind,
    });
  }
}
