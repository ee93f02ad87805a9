import { type Draft, draftKey, draftsKey, type Message, type SyncResult } from '@parley/contracts';
import { badRequest, type Principal } from '@parley/kernel';
import type { DomainDeps } from './deps.ts';
import { toMessage } from './mappers.ts';

/** Most messages per conversation in one sync; the rest is paged over REST (API.md: at least 500). */
export const SYNC_MESSAGE_CAP = 500;
/** Most edits/deletes in one sync; the token then points at the last one returned, so the next sync resumes. */
export const SYNC_CHANGE_CAP = 2000;

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
    const mine = new Set(await this.deps.conversations.conversationIdsOf(principal.userId));
    const conversationIds = Object.keys(lastSeen).filter((id) => mine.has(id));

    const messages: Message[] = [];
    const more: Record<string, true> = {};
    const pages = await Promise.all(
      conversationIds.map((id) => this.deps.messages.after(id, lastSeen[id] ?? 0, SYNC_MESSAGE_CAP + 1)),
    );
    pages.forEach((rows, index) => {
      if (rows.length > SYNC_MESSAGE_CAP) more[conversationIds[index]!] = true;
      for (const row of rows.slice(0, SYNC_MESSAGE_CAP)) messages.push(toMessage(row));
    });

    let changes: Message[] = [];
    let token = revision;
    if (sinceRevision !== undefined && sinceRevision < revision) {
      const rows = await this.deps.messages.changesSince(
        principal.userId,
        sinceRevision,
        undefined,
        SYNC_CHANGE_CAP,
      );
      const upTo = rows.filter((row) => (row.revision ?? 0) <= revision);
      changes = upTo.map(toMessage);
      if (rows.length >= SYNC_CHANGE_CAP && upTo.length > 0) token = upTo.at(-1)!.revision!;
    }

    return {
      messages,
      changes,
      more,
      drafts: await this.drafts(conversationIds),
      syncToken: syncToken(token),
    };
  }

  private async drafts(conversationIds: readonly string[]): Promise<Draft[]> {
    const drafts: Draft[] = [];
    await Promise.all(
      conversationIds.map(async (conversationId) => {
        for (const draftId of await this.deps.cache.members(draftsKey(conversationId))) {
          const text = await this.deps.cache.get(draftKey(conversationId, draftId));
          if (text !== null) drafts.push({ conversationId, draftId, text });
        }
      }),
    );
    return drafts;
  }
}

function parseToken(token: string): number {
  const match = TOKEN.exec(token);
  if (!match)
    throw badRequest('The sync token is not valid.', [{ path: 'since', message: 'is not a sync token' }]);
  return Number(match[1]);
}
