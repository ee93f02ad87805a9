import type { BotRow } from '../repositories/bots-repository.ts';
import type { ReplyClaim } from '../repositories/replies-repository.ts';

/** One user message to answer, as claimed: who asked, where, and which bot answers. */
export interface ReplyJob extends ReplyClaim {
  /** Epoch ms when the user's message was stored: time to first token is measured from it. */
  askedAt: number;
  /** 1 for the first try, more when another process took the reply over. */
  attempt: number;
  /** The user's message, when the event brought it (a takeover reads it from the transcript). */
  body?: string;
  /** The bot, when the consumer began reading it alongside the claim (a takeover reads it itself). */
  bot?: Promise<BotRow | undefined>;
}
