import { replyClientMessageId } from '@parley/contracts';
import { type Logger, toStorableText } from '@parley/kernel';
import {
  type ChatClient,
  ChatRefusedError,
  type PostedMessage,
  type StoredMessage,
} from '../chat/chat-client.ts';
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
    await this.remember(job, { ...posted, body });
    return posted;
  }

  /**
   * The reply a run that died posted before its outcome was recorded, or null when chat has none. Asked
   * only of replies taken over, before they would ask the provider again. Chat out of reach counts as
   * none: answering again (chat keeps the one message) beats failing the reply.
   */
  async findPosted(job: ReplyJob): Promise<StoredMessage | null> {
    try {
      return await this.chat.findPosted(
        job.conversationId,
        job.botId,
        replyClientMessageId(job.triggerMessageId),
      );
    } catch (error) {
      this.logger.warn(
        { err: error, conversationId: job.conversationId, triggerMessageId: job.triggerMessageId },
        'could not ask chat whether a taken-over reply was posted; answering it again',
      );
      return null;
    }
  }

  /** Recorded now rather than when its event comes back, so the next reply's context has it. */
  async remember(job: ReplyJob, message: StoredMessage): Promise<void> {
    await this.transcript.record({
      conversationId: job.conversationId,
      seq: message.seq,
      messageId: message.id,
      senderType: 'bot',
      body: message.body,
      createdAt: new Date(message.createdAt),
    });
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
