import { type Draft, draftKey, draftsKey, type Message, type SyncResult } from '@parley/contracts';
import { badRequest, isStaff, type Principal } from '@parley/kernel';
import { staffMayWork } from './access.ts';
import type { DomainDeps } from './deps.ts';
import { toMessage } from './mappers.ts';

/** Most messages per conversation in one sync; the rest is paged over REST (API.md: at least 500). */
export const SYNC_MESSAGE_CAP = 500;
/**
 * Most messages in one sync over all its conversations (up to 1000 of them): without it a single sync
 * could ask for half a million messages in one answer.
 */
export const SYNC_TOTAL_CAP = 2000;
/** Most edits/deletes in one sync; the token then points at the last one returned, so the next sync resumes. */
export const SYNC_CHANGE_CAP = 500;

const TOKEN = /^r(\d{1,15})$/;

export function syncToken(revision: number): string {
  return `r${revision}`;
}

/** Catch-up after a reconnect: everything after each last-seen seq, changes since the last token, drafts. */
export class SyncService {
  constructor(private readonly deps: DomainDeps) {}

  async sync(
    principal: Principal,
    lastSeen: Readonly<Record<string, number>>,
    since: string | undefined,
  ): Promise<SyncResult> {
    const sinceRevision = since === undefined ? undefined : parseToken(since);
    // Read the revision first: every change up to it has committed (revisions are taken under one row lock),
    // so changes up to it are all visible to the queries below, and later ones come with the next sync.
    const revision = await this.deps.sync.currentRevision();
    const lastSeqs = await this.deps.conversations.lastSeqsOf(principal.userId);
    const worked = await this.workedUnjoined(principal, lastSeen, lastSeqs);
    for (const { id, lastSeq } of worked) lastSeqs.set(id, lastSeq);
    const conversationIds = Object.keys(lastSeen).filter((id) => lastSeqs.has(id));

    const more: Record<string, true> = {};
    const reads = allotBacklogs(
      conversationIds.map((id) => ({
        conversationId: id,
        afterSeq: lastSeen[id] ?? 0,
        backlog: Math.max(0, (lastSeqs.get(id) ?? 0) - (lastSeen[id] ?? 0)),
      })),
    );
    for (const read of reads) if (read.cut) more[read.conversationId] = true;
    const pages = await Promise.all(
      reads
        .filter((read) => read.limit > 0)
        .map((read) => this.deps.messages.after(read.conversationId, read.afterSeq, read.limit)),
    );
    const messages: Message[] = pages.flatMap((rows) => rows.map(toMessage));

    let changes: Message[] = [];
    let token = revision;
    let moreChanges = false;
    if (sinceRevision !== undefined && sinceRevision < revision) {
      const rows = await this.deps.messages.changesSince(
        principal.userId,
        sinceRevision,
        worked.map(({ id }) => id),
        SYNC_CHANGE_CAP,
      );
      const upTo = rows.filter((row) => (row.revision ?? 0) <= revision);
      changes = upTo.map(toMessage);
      if (rows.length >= SYNC_CHANGE_CAP && upTo.length > 0) {
        token = upTo.at(-1)!.revision!;
        moreChanges = token < revision;
      }
    }

    const drafts = await this.drafts(conversationIds);
    return {
      messages,
      changes,
      more,
      moreChanges,
      drafts: drafts ?? [],
      ...(drafts ? {} : { draftsUnavailable: true as const }),
      syncToken: syncToken(token),
    };
  }

  /**
   * The conversations asked about that the caller is not a member of but works as staff (bot and support
   * ones): they read them over REST, so they catch up on them here too. Only those asked about: staff are
   * not told of every support conversation's edits.
   */
  private async workedUnjoined(
    principal: Principal,
    lastSeen: Readonly<Record<string, number>>,
    memberOf: ReadonlyMap<string, number>,
  ): Promise<Array<{ id: string; lastSeq: number }>> {
    if (!isStaff(principal.role)) return [];
    const unjoined = Object.keys(lastSeen).filter((id) => !memberOf.has(id));
    const rows = await this.deps.conversations.lastSeqsByIds(unjoined);
    return rows.filter((row) => staffMayWork(principal, row));
  }

  /**
   * Drafts live only in the cache. Without it the catch-up still holds everything stored (the database's),
   * which is what must not be lost; a reply being streamed arrives whole as its message. So an unreachable
   * cache costs the drafts (undefined: the answer says so), not the sync.
   */
  private async drafts(conversationIds: readonly string[]): Promise<Draft[] | undefined> {
    const drafts: Draft[] = [];
    try {
      await Promise.all(
        conversationIds.map(async (conversationId) => {
          for (const draftId of await this.deps.cache.members(draftsKey(conversationId))) {
            const text = await this.deps.cache.get(draftKey(conversationId, draftId));
            if (text !== null) drafts.push({ conversationId, draftId, text });
          }
        }),
      );
    } catch {
      this.deps.metrics.syncsWithoutDrafts.inc();
      return undefined;
    }
    return drafts;
  }
}

interface BacklogRead {
  conversationId: string;
  afterSeq: number;
  /** How many messages to read (0: none). */
  limit: number;
  /** Part of the backlog is left for REST paging. */
  cut: boolean;
}

/**
 * Shares the sync's budget out. Seqs are gap-free, so a conversation's backlog is its last seq minus the
 * client's: conversations with none cost no query, and the smallest backlogs are served first, so as
 * many conversations as possible come complete; each gets at most the per-conversation cap.
 */
function allotBacklogs(
  backlogs: ReadonlyArray<{ conversationId: string; afterSeq: number; backlog: number }>,
): BacklogRead[] {
  let left = SYNC_TOTAL_CAP;
  return [...backlogs]
    .filter((entry) => entry.backlog > 0)
    .sort((a, b) => a.backlog - b.backlog)
    .map(({ conversationId, afterSeq, backlog }) => {
      const limit = Math.min(backlog, SYNC_MESSAGE_CAP, left);
      left -= limit;
      return { conversationId, afterSeq, limit, cut: limit < backlog };
    });
}

function parseToken(token: string): number {
  const match = TOKEN.exec(token);
  if (!match)
    throw badRequest('The sync token is not valid.', [{ path: 'since', message: 'is not a sync token' }]);
  return Number(match[1]);
}
