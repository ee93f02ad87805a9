/**
 * Bot replies in progress live in the Cache, never in the database (ARCHITECTURE.md, data flow step 3).
 * Whoever streams a reply (the bots service):
 *
 * 1. publishes each token on `DELTA_CHANNEL` as JSON `{ conversationId, draftId, delta, index }` — chat
 *    relays it to the conversation's members as `message:delta`;
 * 2. keeps the text so far under `draftKey(conversationId, draftId)` (a plain string, with a TTL) and adds
 *    `draftId` to the member set `draftsKey(conversationId)` (with the same TTL) — chat reads both to answer
 *    `sync` with `drafts`;
 * 3. removes the member and the key once the final message is posted.
 */
export const DELTA_CHANNEL = 'chat:deltas';

export function draftsKey(conversationId: string): string {
  return `chat:drafts:${conversationId}`;
}

export function draftKey(conversationId: string, draftId: string): string {
  return `chat:draft:${conversationId}:${draftId}`;
}
