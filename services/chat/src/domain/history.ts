import { type Message, SEQ_MAX } from '@parley/contracts';
import { badRequest, type Principal } from '@parley/kernel';
import type { DomainDeps } from './deps.ts';
import { toMessage } from './mappers.ts';
import type { MessageService } from './messages.ts';

export interface HistoryRequest {
  afterSeq?: number | undefined;
  beforeSeq?: number | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface MessagePage {
  items: Message[];
  nextCursor: string | null;
}

const CURSOR = /^([ab])(\d{1,10})$/;

/** Paging through a conversation by seq, in either direction; items are always in seq order. */
export class HistoryService {
  constructor(
    private readonly deps: DomainDeps,
    private readonly messages: MessageService,
  ) {}

  async page(principal: Principal, conversationId: string, request: HistoryRequest): Promise<MessagePage> {
    const { conversation } = await this.messages.readable(principal, conversationId);
    const limit = request.limit ?? 20;
    let direction: 'a' | 'b';
    let seq: number;
    if (request.cursor !== undefined) {
      const match = CURSOR.exec(request.cursor);
      // A seq past any stored one was never handed out as a cursor (and the database would refuse it).
      if (!match || Number(match[2]) > SEQ_MAX)
        throw badRequest('The cursor is not valid.', [{ path: 'cursor', message: 'is not a cursor' }]);
      direction = match[1] as 'a' | 'b';
      seq = Number(match[2]);
    } else if (request.afterSeq !== undefined && request.beforeSeq !== undefined) {
      throw badRequest('Give afterSeq or beforeSeq, not both.', [
        { path: 'afterSeq', message: 'conflicts with beforeSeq' },
      ]);
    } else if (request.afterSeq !== undefined) {
      direction = 'a';
      seq = request.afterSeq;
    } else {
      // Without a position: the newest page, then older ones.
      direction = 'b';
      seq = request.beforeSeq ?? conversation.lastSeq + 1;
    }
    if (direction === 'a') {
      const rows = await this.deps.messages.after(conversationId, seq, limit + 1);
      const page = rows.slice(0, limit);
      const more = rows.length > limit;
      return { items: page.map(toMessage), nextCursor: more ? `a${page.at(-1)!.seq}` : null };
    }
    const rows = await this.deps.messages.before(conversationId, seq, limit + 1);
    const page = rows.slice(0, limit).reverse();
    const more = rows.length > limit;
    return { items: page.map(toMessage), nextCursor: more ? `b${page[0]!.seq}` : null };
  }

  async search(
    principal: Principal,
    query: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<MessagePage> {
    if (cursor !== undefined && !/^msg_[0-9a-z]{26}$/.test(cursor)) {
      throw badRequest('The cursor is not valid.', [{ path: 'cursor', message: 'is not a cursor' }]);
    }
    const rows = await this.deps.messages.search(principal.userId, query, cursor, limit + 1);
    const page = rows.slice(0, limit);
    return { items: page.map(toMessage), nextCursor: rows.length > limit ? page.at(-1)!.id : null };
  }
}
