import { replyClientMessageId } from '@parley/contracts';
import { type Logger, toStorableText } from '@parley/kernel';
import { type ChatClient, ChatRefusedError, type PostedMessage } from '../chat/chat-client.ts';
import type { TranscriptRepository } from '../repositories/transcript-repository.ts';
import type { ReplyJob } from './reply-job.ts';

/**
 * Posts a job's one reply through chat's internal API. The clientMessageId is derived from the user's
 * message, so however often this runs (retries, a second process taking over) chat stores one message.
 */
export class ReplyPoster {
  constructor(
    private readonly chat: ChatClient,
    private readonly transcript: TranscriptRepository,
    private readonly maxBodyBytes: number,
    private readonly logger: Logger,
  ) {}

  /**
   * The posted message, or null when chat refuses it for good (the conversation closed or vanished). The
   * text is made storable first: chat refuses NUL and broken UTF-16, and every retry would ask (and bill)
   * the provider again.
   */
  async post(job: ReplyJob, text: string): Promise<PostedMessage | null> {
    const body = fitBytes(toStorableText(text), this.maxBodyBytes);
    let posted: PostedMessage;
    try {
      posted = await this.chat.postMessage(job.conversationId, {
        senderId: job.botId,
        senderType: 'bot',
        body,
        clientMessageId: replyClientMessageId(job.triggerMessageId),
      });
    } catch (error) {
      if (error instanceof ChatRefusedError && (error.status === 404 || error.status === 409)) {
        this.logger.info(
          { conversationId: job.conversationId, code: error.code },
          'chat refused the bot reply',
        );
        return null;
      }
      throw error;
    }
    // Recorded now rather than when its event comes back, so the next reply's context has it.
    await this.transcript.record({
      conversationId: job.conversationId,
      seq: posted.seq,
      messageId: posted.id,
      senderType: 'bot',
      body,
      createdAt: new Date(posted.createdAt),
    });
    return posted;
  }
}

/** Cuts text to a byte budget on a character boundary, marking the cut. */
export function fitBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const ellipsis = '…';
  let cut = Buffer.from(text, 'utf8')
    .subarray(0, maxBytes - Buffer.byteLength(ellipsis))
    .toString('utf8');
  // A multi-byte character cut in half decodes as U+FFFD: drop it.
  cut = cut.replace(/\uFFFD+$/, '');
  return `${cut}${ellipsis}`;
}
