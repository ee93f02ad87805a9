import type { ReplyOutcome } from '@parley/contracts';
import type { StoredMessage } from '../chat/chat-client.ts';
import type { QuotaReservation } from '../domain/usage-meter.ts';
import type { ChatTurn } from '../providers/chat-provider.ts';
import type { BotProvider } from '../providers/provider-factory.ts';
import type { BotRow } from '../repositories/bots-repository.ts';
import type { ReplyClaim } from '../repositories/replies-repository.ts';
import type { ParsedCommand } from './commands.ts';
import type { ProviderCall } from './provider-call.ts';

/** One user message to answer, as claimed: who asked, where, and which bot answers. */
export interface ReplyJob extends ReplyClaim {
  /** Epoch ms when the user's message was stored: time to first token is measured from it. */
  askedAt: number;
  /** 1 for the first try, more when another process took the reply over. */
  attempt: number;
  /** The user's message, when the event brought it (a takeover reads it from the transcript). */
  body?: string;
  /** What the answer needs, when it was read while the claim was written (otherwise the runner reads it). */
  prepared?: Promise<Preparation>;
}

/** How a job will be answered, decided from reads alone (ReplyRunner.prepare). */
export type Preparation =
  /** A short notice instead of an answer: the bot is gone or off, the question is gone, no provider, no quota. */
  | { kind: 'notice'; notice: string; outcome?: ReplyOutcome; providerProblem?: string }
  | { kind: 'command'; bot: BotRow; command: ParsedCommand }
  | { kind: 'handoff' }
  /** A taken-over reply whose previous run posted its answer and died before recording it: nothing to ask. */
  | { kind: 'posted'; message: StoredMessage }
  /**
   * A provider call, already asked for, its tokens reserved against the user's quota (undefined for a
   * provider that is not metered): whoever ends up not reading the call abandons it and gives the tokens
   * back (ReplyRunner.discard).
   */
  | {
      kind: 'stream';
      bot: BotRow;
      chosen: BotProvider;
      messages: ChatTurn[];
      reservation: QuotaReservation | undefined;
      call: ProviderCall;
    };

/** A preparation that answers through a provider: what streamReply runs. */
export type StreamPreparation = Extract<Preparation, { kind: 'stream' }>;
