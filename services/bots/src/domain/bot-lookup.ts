import type { Cache, Unsubscribe } from '@parley/cache';
import type { Logger } from '@parley/kernel';
import type { BotRow, BotsRepository } from '../repositories/bots-repository.ts';

/** Every bots process listens here: a bot id published on it is read afresh on its next reply. */
export const BOT_CHANGED_CHANNEL = 'bots:changed';
/** Longest a process answers with a bot's settings after they changed, should the change's signal be lost. */
export const BOT_LOOKUP_TTL_MS = 1_000;
/** Past this many remembered bots, the expired ones are dropped. */
const SWEEP_ABOVE = 1_000;

interface Entry {
  row: Promise<BotRow | undefined>;
  expiresAt: number;
}

/**
 * The bot rows replies are answered with. Every reply reads its bot before it can ask the provider, and a
 * reply's first delta waits for that read (most of a millisecond on a busy database); bots change rarely,
 * so a row read in the last second serves. Whoever changes a bot calls {@link changed} once the change has
 * committed: this process forgets the row at once, every other one as soon as the signal reaches it, and
 * at worst when the second is up. Only bots that exist are remembered, so a new bot is never missed.
 */
export class BotLookup {
  private readonly entries = new Map<string, Entry>();
  private unsubscribe: Unsubscribe | undefined;

  constructor(
    private readonly bots: Pick<BotsRepository, 'findById'>,
    private readonly cache: Cache,
    private readonly logger: Logger,
    private readonly ttlMs = BOT_LOOKUP_TTL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async start(): Promise<void> {
    this.unsubscribe ??= await this.cache.subscribe(BOT_CHANGED_CHANNEL, (botId) => {
      this.entries.delete(botId);
    });
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  find(botId: string): Promise<BotRow | undefined> {
    const now = this.now();
    const known = this.entries.get(botId);
    if (known && known.expiresAt > now) return known.row;
    const row = this.bots.findById(botId);
    const entry = { row, expiresAt: now + this.ttlMs };
    if (this.entries.size >= SWEEP_ABOVE) this.sweep(now);
    this.entries.set(botId, entry);
    // A bot that is not there, or a failed read, is asked again next time; a read that a change overtook
    // is not kept (the change removed or replaced its entry).
    const forget = () => {
      if (this.entries.get(botId) === entry) this.entries.delete(botId);
    };
    row.then((found) => (found ? undefined : forget()), forget);
    return row;
  }

  /** After a change to these bots committed: every process reads them afresh. */
  async changed(botIds: readonly string[]): Promise<void> {
    for (const botId of botIds) {
      this.entries.delete(botId);
      await this.cache.publish(BOT_CHANGED_CHANNEL, botId).catch((error: unknown) => {
        this.logger.warn(
          { err: error, botId },
          `could not tell other processes a bot changed; they see it within ${this.ttlMs} ms`,
        );
      });
    }
  }

  private sweep(now: number): void {
    for (const [botId, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(botId);
  }
}
