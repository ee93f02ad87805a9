/**
 * How a bot reply travels (chat's DELTA_CHANNEL and draft keys carry it; see ../chat/drafts.ts):
 *
 * - The reply to user message `m` is posted with `clientMessageId = replyClientMessageId(m)`, which makes
 *   it exactly one message whatever the retries; while it streams, its `draftId` is that same string, so a
 *   client replaces the draft with the `message:new` whose clientMessageId equals the draftId.
 * - A `message:delta`'s `index` is the offset (in UTF-16 code units, like `String.length`) of `delta` in
 *   the draft's text. A client that resumes from `sync`'s `drafts` text of length L appends only what lies
 *   beyond L, and a gap (`index` > its length) means it missed a delta and should sync again.
 */
export function replyClientMessageId(triggerMessageId: string): string {
  return `reply:${triggerMessageId}`;
}
