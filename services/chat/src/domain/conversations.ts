import {
  ChatEvents,
  type Conversation,
  type ConversationExpectation,
  type CreateConversationBody,
} from '@parley/contracts';
import {
  badRequest,
  conflict,
  createEvent,
  forbidden,
  hasRole,
  isStaff,
  isStorableText,
  newId,
  notFound,
  type Principal,
} from '@parley/kernel';
import { isUniqueViolation, type Tx } from '@parley/store';
import type {
  ConversationRow,
  MemberRow,
  NewConversationRow,
} from '../repositories/conversations-repository.ts';
import { hiddenConversation, mayRead, staffWorksUnjoined } from './access.ts';
import { notifyConversationUpdated } from './conversation-notice.ts';
import type { DomainDeps } from './deps.ts';
import { toConversation, toSnapshot } from './mappers.ts';
import { actorOf, type MessageService } from './messages.ts';
import { canTransition } from './status-machine.ts';

export interface TypingAudience {
  memberIds: string[];
  /** The typist is staff working the conversation without being a member. */
  asStaff: boolean;
}

export interface ConversationPage {
  items: Conversation[];
  nextCursor: string | null;
}

export interface InternalChanges {
  status?: ConversationRow['status'] | undefined;
  assigneeId?: string | null | undefined;
  handledBy?: ConversationRow['handledBy'] | undefined;
  /** Applied only while the conversation is still so (internal-routes: `expect`). */
  expect?: ConversationExpectation | undefined;
}

type ConversationEvent = (typeof ChatEvents)['conversationCreated' | 'conversationUpdated'];

/** Opening, listing and administering conversations; status and assignment are owned here. */
export class ConversationService {
  constructor(
    private readonly deps: DomainDeps,
    private readonly messages: MessageService,
  ) {}

  async create(
    principal: Principal,
    body: CreateConversationBody,
  ): Promise<{ conversation: Conversation; created: boolean }> {
    // Refused before anything else, also when the direct conversation exists already and would otherwise
    // just be handed back, and before anything is written.
    if (body.systemMessage !== undefined) this.checkSystemMessage(principal, body.type, body.systemMessage);
    const others = [...new Set(body.memberIds ?? [])].filter((id) => id !== principal.userId);
    const base = { id: newId('cnv'), createdBy: principal.userId, title: body.title ?? null };
    let row: NewConversationRow;
    let memberIds = [principal.userId];
    switch (body.type) {
      case 'direct': {
        if (others.length !== 1 || (body.memberIds ?? []).length !== 1) {
          throw badRequest('A direct conversation needs exactly one other member.', [
            { path: 'memberIds', message: 'must hold exactly one other user' },
          ]);
        }
        const other = others[0]!;
        await this.requireUsers([other]);
        if (await this.deps.users.blockedBetween(principal.userId, other))
          throw forbidden('You cannot message this user.');
        const directKey = [principal.userId, other].sort().join(':');
        const existing = await this.deps.conversations.findByDirectKey(directKey);
        if (existing) return { conversation: await this.view(existing, principal.userId), created: false };
        row = { ...base, type: 'direct', status: 'open', handledBy: null, directKey };
        memberIds = [principal.userId, other];
        break;
      }
      case 'group': {
        if (others.length + 1 > this.deps.limits.groupMaxMembers) {
          throw badRequest(`A group has at most ${this.deps.limits.groupMaxMembers} members.`, [
            { path: 'memberIds', message: 'too many members' },
          ]);
        }
        await this.requireUsers(others);
        await this.refuseBlocked(principal.userId, others);
        row = { ...base, type: 'group', status: 'open', handledBy: null };
        memberIds = [principal.userId, ...others];
        break;
      }
      case 'bot': {
        if (!body.botId)
          throw badRequest('A bot conversation needs a botId.', [{ path: 'botId', message: 'is required' }]);
        await this.requireAnswerableBot(body.botId);
        row = { ...base, type: 'bot', botId: body.botId, status: 'open', handledBy: 'bot' };
        break;
      }
      default: {
        // support: answered by the chosen support bot, or waiting for a human when there is none.
        const bot = await this.deps.botDirectory.supportBotId();
        row = bot
          ? { ...base, type: 'support', botId: bot, status: 'open', handledBy: 'bot' }
          : { ...base, type: 'support', status: 'pending', handledBy: 'human' };
        break;
      }
    }
    const memberRows = memberIds.map((userId) => ({
      conversationId: row.id,
      userId,
      role: userId === principal.userId && body.type === 'group' ? ('owner' as const) : ('member' as const),
    }));
    let created: ConversationRow;
    try {
      created = await this.deps.outbox.transaction(async (tx) => {
        const inserted = await this.deps.conversations.insert(tx, row, memberRows);
        await this.publish(tx, ChatEvents.conversationCreated, inserted, principal);
        return inserted;
      });
    } catch (error) {
      // Two first messages racing to open the same direct conversation: the loser gets the winner's.
      if (row.directKey && isUniqueViolation(error)) {
        const existing = await this.deps.conversations.findByDirectKey(row.directKey);
        if (existing) return { conversation: await this.view(existing, principal.userId), created: false };
      }
      throw error;
    }
    if (body.systemMessage) {
      await this.messages.post({
        conversationId: created.id,
        senderId: principal.userId,
        senderType: 'system',
        body: body.systemMessage,
        clientMessageId: `${created.id}:created`,
      });
      created = (await this.deps.conversations.findById(created.id)) ?? created;
    }
    await notifyConversationUpdated(this.deps, created.id);
    return { conversation: await this.view(created, principal.userId), created: true };
  }

  async list(
    principal: Principal,
    query: {
      status?: ConversationRow['status'] | undefined;
      type?: ConversationRow['type'] | undefined;
      cursor?: string | undefined;
      limit?: number | undefined;
    },
  ): Promise<ConversationPage> {
    const limit = query.limit ?? 20;
    const before = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
    const rows = await this.deps.conversations.listForUser({
      userId: principal.userId,
      status: query.status,
      type: query.type,
      before,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const items = await this.views(page, principal.userId);
    const last = page.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeListCursor(last) : null };
  }

  async get(principal: Principal, id: string): Promise<Conversation> {
    const conversation = await this.readable(principal, id);
    return this.view(conversation.row, principal.userId);
  }

  async rename(principal: Principal, id: string, title: string | null): Promise<Conversation> {
    const { row, member } = await this.manageable(principal, id);
    if (row.type === 'group' && member?.role !== 'owner' && principal.role !== 'admin') {
      throw forbidden('Only the group owner or an admin can rename the group.');
    }
    return this.change(principal, id, { title });
  }

  async addMember(principal: Principal, id: string, userId: string): Promise<Conversation> {
    const { row } = await this.administrable(principal, id);
    await this.requireUsers([userId]);
    await this.refuseBlocked(principal.userId, [userId]);
    await this.deps.outbox.transaction(async (tx) => {
      // The conversation row lock orders concurrent additions so the size limit holds, and tells a
      // conversation deleted since it was read.
      const [locked] = await this.deps.conversations.lockForSend(tx, [id]);
      if (!locked) throw hiddenConversation();
      const members = await this.deps.conversations.membersOf([id], tx);
      // Adding a member again changes nothing, even in a full group.
      if (members.some((member) => member.userId === userId)) return;
      if (members.length >= this.deps.limits.groupMaxMembers)
        throw conflict('The group is full.', 'group_full');
      if (await this.deps.conversations.addMember(tx, id, userId, 'member')) {
        await this.publish(tx, ChatEvents.conversationUpdated, row, principal);
      }
    });
    await notifyConversationUpdated(this.deps, id);
    return this.view(row, principal.userId);
  }

  async removeMember(principal: Principal, id: string, userId: string): Promise<void> {
    const { row, member } = await this.manageable(principal, id);
    const leaving = userId === principal.userId;
    if (row.type !== 'group')
      throw conflict('Only group conversations have members to remove.', 'not_a_group');
    if (!leaving && member?.role !== 'owner' && principal.role !== 'admin') {
      throw forbidden('Only the group owner or an admin can remove members.');
    }
    if (userId === row.createdBy && !leaving)
      throw conflict('The owner cannot be removed.', 'owner_required');
    const removed = await this.deps.outbox.transaction(async (tx) => {
      // Membership changes queue with sends on the conversation's row lock (send-statements.ts).
      const [locked] = await this.deps.conversations.lockForSend(tx, [id]);
      if (!locked) throw hiddenConversation();
      const gone = await this.deps.conversations.removeMember(tx, id, userId);
      if (gone) await this.publish(tx, ChatEvents.conversationUpdated, row, principal);
      return gone;
    });
    if (!removed) throw notFound('That user is not a member.');
    await notifyConversationUpdated(this.deps, id, [userId]);
  }

  /** Closing is for good: in a group that is its owner's (or an admin's) call, not any member's. */
  async end(principal: Principal, id: string): Promise<Conversation> {
    const { row, member } = await this.manageable(principal, id);
    if (row.type === 'group' && member?.role !== 'owner' && !hasRole(principal.role, 'admin')) {
      throw forbidden('Only the group owner or an admin can end the group.');
    }
    return this.change(principal, id, { status: 'closed' });
  }

  async delete(principal: Principal, id: string): Promise<void> {
    const { row } = await this.manageable(principal, id);
    if (row.createdBy !== principal.userId && principal.role !== 'admin') {
      throw forbidden('Only the owner or an admin can delete a conversation.');
    }
    const memberRows = await this.deps.outbox.transaction(async (tx) => {
      // Read before the cascade removes them: after commit they are the ones to tell.
      const before = await this.deps.conversations.membersOf([id], tx);
      await this.deps.conversations.delete(tx, id);
      await this.deps.outbox.add(
        tx,
        createEvent(ChatEvents.conversationDeleted, { conversationId: id }, { actor: actorOf(principal) }),
      );
      return before;
    });
    this.deps.notifier.toUsers(
      memberRows.map((member) => member.userId),
      'conversation:deleted',
      { conversationId: id },
    );
  }

  /** Internal API (console, bots): status, assignment and who handles the conversation. */
  async applyInternal(principal: Principal, id: string, changes: InternalChanges): Promise<Conversation> {
    const patch: Pick<InternalChanges, 'status' | 'assigneeId' | 'handledBy'> = {};
    if (changes.status !== undefined) patch.status = changes.status;
    if (changes.assigneeId !== undefined) patch.assigneeId = changes.assigneeId;
    if (changes.handledBy !== undefined) patch.handledBy = changes.handledBy;
    // A bare expectation would still touch the row and publish an update that changed nothing.
    if (Object.keys(patch).length === 0) {
      throw badRequest('Nothing to change.', [
        { path: 'expect', message: 'needs a change to go with it: status, assigneeId or handledBy' },
      ]);
    }
    // Refused early without a write transaction when it already shows; the check under the row lock in
    // change() is the one that counts.
    const current = await this.deps.conversations.findById(id);
    if (!current) throw notFound('There is no such conversation.');
    refuseChange(current, patch, changes.expect);
    if (
      (current.type === 'direct' || current.type === 'group') &&
      (patch.assigneeId !== undefined || patch.handledBy !== undefined)
    ) {
      throw conflict(
        'Only bot and support conversations are handled by a bot or people, or assigned to an agent.',
        'not_a_support_conversation',
      );
    }
    if (patch.assigneeId) await this.requireAssignable(patch.assigneeId);
    return this.change(principal, id, patch, changes.assigneeId ?? undefined, changes.expect);
  }

  /**
   * The assignee joins the conversation and reads the user's messages: only an active staff account may,
   * never a mistyped id, another user or a bot.
   */
  private async requireAssignable(userId: string): Promise<void> {
    const [account] = await this.deps.users.findMany([userId]);
    if (!account?.active || !account.role || !isStaff(account.role)) {
      throw conflict(
        `${userId} is not an active agent account and cannot be assigned.`,
        'assignee_not_staff',
      );
    }
  }

  /**
   * A system notice reads as the platform's voice: among other people only staff may open with one (a
   * user's would be a phishing line). In a user's own bot or support line it is context for the bot and
   * staff, and it is attributed to its author either way. What the database or post() would refuse is
   * refused here, or the conversation would be left behind without it and a retry would create another.
   */
  private checkSystemMessage(
    principal: Principal,
    type: CreateConversationBody['type'],
    systemMessage: string,
  ): void {
    if ((type === 'direct' || type === 'group') && !isStaff(principal.role)) {
      throw forbidden('Only staff can open a conversation with other people with a system message.');
    }
    if (!isStorableText(systemMessage)) {
      throw badRequest('The system message cannot be stored.', [
        { path: 'systemMessage', message: 'must not contain NUL characters or broken UTF-16' },
      ]);
    }
    // Blank, or over the byte limit.
    this.messages.checkBody(systemMessage, [], 'systemMessage');
  }

  private async change(
    principal: Principal,
    id: string,
    patch: Partial<ChangeablePart>,
    newAgent?: string,
    expected?: ConversationExpectation,
  ): Promise<Conversation> {
    const updated = await this.deps.outbox.transaction(async (tx) => {
      // Locked first, as sends and deletes lock it: a conversation deleted meanwhile is gone (404), not a
      // foreign-key error when the agent joins. The checks below see the row as the update will find it:
      // a change committed since the caller's read (a user's message reopening it, an agent taking it)
      // is what they are judged against.
      const [locked] = await this.deps.conversations.lockForSend(tx, [id]);
      if (!locked) throw hiddenConversation();
      refuseChange(locked, patch, expected);
      // A retry, or closing what is already closed, is answered as it stands: no write and no
      // announcement of a change that did not happen.
      if (!changesAnything(locked, patch)) return undefined;
      // An assigned agent becomes a member, so the conversation's events reach them.
      if (newAgent) await this.deps.conversations.addMember(tx, id, newAgent, 'agent');
      const row = await this.deps.conversations.update(tx, id, patch);
      if (!row) throw hiddenConversation();
      await this.publish(tx, ChatEvents.conversationUpdated, row, principal);
      return row;
    });
    if (!updated) {
      const current = await this.deps.conversations.findById(id);
      if (!current) throw hiddenConversation();
      return this.view(current, principal.userId);
    }
    await notifyConversationUpdated(this.deps, id);
    return this.view(updated, principal.userId);
  }

  private async readable(
    principal: Principal,
    id: string,
  ): Promise<{ row: ConversationRow; member: MemberRow | undefined }> {
    const row = await this.deps.conversations.findById(id);
    if (!row) throw hiddenConversation();
    const member = await this.deps.conversations.findMember(id, principal.userId);
    if (!mayRead(principal, row, member)) throw hiddenConversation();
    return { row, member };
  }

  /**
   * For what "owner or admin" may do: an admin manages any conversation without being in it (reading it
   * stays for members); everyone else must be able to read it, and learns nothing otherwise.
   */
  private async manageable(
    principal: Principal,
    id: string,
  ): Promise<{ row: ConversationRow; member: MemberRow | undefined }> {
    if (!hasRole(principal.role, 'admin')) return this.readable(principal, id);
    const row = await this.deps.conversations.findById(id);
    if (!row) throw hiddenConversation();
    return { row, member: await this.deps.conversations.findMember(id, principal.userId) };
  }

  private async administrable(principal: Principal, id: string) {
    const found = await this.manageable(principal, id);
    if (found.row.type !== 'group') throw conflict('Only group conversations take members.', 'not_a_group');
    if (found.member?.role !== 'owner' && !hasRole(principal.role, 'admin')) {
      throw forbidden('Only the group owner or an admin can add members.');
    }
    return found;
  }

  /**
   * Who is told that `principal` is typing: the conversation's members. In a direct conversation with a
   * block between the two nobody is, and the caller hears why, as a send would be refused there. Staff
   * type where they may write without being members (an agent drafting the first answer to a conversation
   * handed over to people), so the person waiting sees someone is on it.
   */
  async typingAudience(principal: Principal, id: string): Promise<TypingAudience> {
    const [memberRows, silenced] = await Promise.all([
      this.deps.conversations.membersOf([id]),
      this.deps.users.blockSilences(principal.userId, id),
    ]);
    const memberIds = memberRows.map((member) => member.userId);
    if (!memberIds.includes(principal.userId)) {
      if (!(await staffWorksUnjoined(this.deps.conversations, principal, id))) throw hiddenConversation();
      return { memberIds, asStaff: true };
    }
    if (silenced) throw forbidden('You cannot message this user.');
    return { memberIds, asStaff: false };
  }

  /** A group is no way around a block: nobody adds a user who blocked them, or whom they blocked. */
  private async refuseBlocked(userId: string, others: readonly string[]): Promise<void> {
    if ((await this.deps.users.blockedAmong(userId, others)).length > 0)
      throw forbidden('You cannot add a user you have blocked or who has blocked you.');
  }

  /**
   * Refuses a bot the directory knows to be deleted or switched off (404). A bot the directory has not heard of
   * yet is accepted: its creation event may still be on its way (or predate the directory), and the bots
   * service answers in the conversation itself that a bot it does not know is unavailable.
   */
  private async requireAnswerableBot(botId: string): Promise<void> {
    const bot = await this.deps.botDirectory.find(botId);
    // Switched off reads as absent, as it does to users in the bots service's own API.
    if (bot && (bot.deleted || !bot.active)) throw notFound(`No such bot: ${botId}.`);
  }

  private async requireUsers(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const known = new Set(
      (await this.deps.users.findMany(ids)).filter((user) => user.active).map((user) => user.id),
    );
    const missing = ids.filter((id) => !known.has(id));
    if (missing.length > 0) {
      throw notFound(`No such user: ${missing.join(', ')}.`);
    }
  }

  private async publish(
    tx: Tx,
    type: ConversationEvent,
    row: ConversationRow,
    principal: Principal,
  ): Promise<void> {
    const memberRows = await this.deps.conversations.membersOf([row.id], tx);
    await this.deps.outbox.add(
      tx,
      createEvent(type, { conversation: toSnapshot(row, memberRows) }, { actor: actorOf(principal) }),
    );
  }

  private async view(row: ConversationRow, userId: string): Promise<Conversation> {
    const [conversation] = await this.views([row], userId);
    return conversation!;
  }

  private async views(rows: readonly ConversationRow[], userId: string): Promise<Conversation[]> {
    const ids = rows.map((row) => row.id);
    const [memberRows, unread] = await Promise.all([
      this.deps.conversations.membersOf(ids),
      this.deps.conversations.unreadCounts(userId, ids),
    ]);
    return rows.map((row) =>
      toConversation(
        row,
        memberRows.filter((member) => member.conversationId === row.id),
        unread.get(row.id) ?? 0,
      ),
    );
  }
}

/**
 * Why a change may not be made to the conversation as it is: no longer what the caller expected (first:
 * the caller's premise is gone, whatever else it asked), or a status the machine does not allow.
 */
function refuseChange(
  current: Pick<ConversationRow, 'status' | 'handledBy'>,
  patch: Pick<InternalChanges, 'status'>,
  expected: ConversationExpectation | undefined,
): void {
  if (
    expected &&
    ((expected.status !== undefined && expected.status !== current.status) ||
      (expected.handledBy !== undefined && expected.handledBy !== current.handledBy))
  ) {
    throw conflict(
      `The conversation is now ${current.status}, handled by ${current.handledBy ?? 'nobody'}: not as expected.`,
      'precondition_failed',
    );
  }
  if (patch.status && !canTransition(current.status, patch.status)) {
    throw conflict(`A ${current.status} conversation cannot become ${patch.status}.`, 'invalid_transition');
  }
}

type ChangeablePart = Pick<ConversationRow, 'title' | 'status' | 'assigneeId' | 'handledBy'>;

function changesAnything(current: ChangeablePart, patch: Partial<ChangeablePart>): boolean {
  return (Object.keys(patch) as (keyof ChangeablePart)[]).some(
    (field) => patch[field] !== undefined && patch[field] !== current[field],
  );
}

function encodeListCursor(row: ConversationRow): string {
  return Buffer.from(`${row.lastActivityAt.toISOString()}|${row.id}`).toString('base64url');
}

function decodeListCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const date = new Date(at ?? '');
  if (!id || Number.isNaN(date.getTime()) || !/^cnv_[0-9a-z]{26}$/.test(id)) {
    throw badRequest('The cursor is not valid.', [{ path: 'cursor', message: 'is not a cursor' }]);
  }
  return { at: date, id };
}
