import { type Executor, PreparedQuery } from '@parley/store';
import { eq, sql } from 'drizzle-orm';
import { quotaReservations, usage } from '../schema/schema.ts';

export interface UsageEntry {
  day: string;
  userId: string;
  botId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export type UsageRow = typeof usage.$inferSelect;

export interface ReservationRequest {
  id: string;
  userId: string;
  day: string;
  tokens: number;
  /** The user's daily quota: the reservation is made only while spent and reserved tokens stay below it. */
  quota: number;
  /** How long the reservation counts if nobody settles or releases it (its process died). */
  lifetimeMs: number;
}

const at = sql.placeholder;

/**
 * Runs under the user's quota lock (see reserve), so the day's usage and live reservations it sums are
 * everything committed by every earlier reservation: none can slip in between the sum and the insert.
 * Lapsed reservations of the user are swept on the way.
 */
const reserveQuery = new PreparedQuery<{ reserved: boolean }>(
  'bots_reserve_quota',
  sql`with lapsed as (
      delete from ${quotaReservations}
      where user_id = ${at('userId')} and expires_at <= now()
    ),
    spent as (
      select coalesce(sum(prompt_tokens + completion_tokens), 0) as tokens
      from ${usage} where user_id = ${at('userId')} and day = ${at('day')}::date
    ),
    held as (
      select coalesce(sum(tokens), 0) as tokens
      from ${quotaReservations}
      where user_id = ${at('userId')} and day = ${at('day')}::date and expires_at > now()
    ),
    reserved as (
      insert into ${quotaReservations} (id, user_id, day, tokens, expires_at)
      select ${at('id')}, ${at('userId')}, ${at('day')}::date, ${at('tokens')}::bigint,
        now() + ${at('lifetimeMs')}::double precision * interval '1 millisecond'
      from spent, held
      where spent.tokens + held.tokens < ${at('quota')}::bigint
      returning 1
    )
    select exists (select 1 from reserved) as reserved`,
);

/**
 * The reservation becomes the usage it stands for in one statement: at no moment are the tokens counted
 * twice, or not at all.
 */
const settleQuery = new PreparedQuery(
  'bots_settle_quota',
  sql`with settled as (
      delete from ${quotaReservations} where id = ${at('reservationId')}
    )
    insert into ${usage} (day, user_id, bot_id, model, requests, prompt_tokens, completion_tokens, cost_usd)
    values (${at('day')}::date, ${at('userId')}, ${at('botId')}, ${at('model')}, 1,
      ${at('promptTokens')}::bigint, ${at('completionTokens')}::bigint, ${at('costUsd')}::double precision)
    on conflict (day, user_id, bot_id, model) do update set
      requests = ${usage.requests} + 1,
      prompt_tokens = ${usage.promptTokens} + excluded.prompt_tokens,
      completion_tokens = ${usage.completionTokens} + excluded.completion_tokens,
      cost_usd = ${usage.costUsd} + excluded.cost_usd`,
);

export class UsageRepository {
  constructor(private readonly db: Executor) {}

  /** Adds one request's tokens to the day's row (created on first use). */
  async add(entry: UsageEntry): Promise<void> {
    await this.db
      .insert(usage)
      .values({ ...entry, requests: 1 })
      .onConflictDoUpdate({
        target: [usage.day, usage.userId, usage.botId, usage.model],
        set: {
          requests: sql`${usage.requests} + 1`,
          promptTokens: sql`${usage.promptTokens} + excluded.prompt_tokens`,
          completionTokens: sql`${usage.completionTokens} + excluded.completion_tokens`,
          costUsd: sql`${usage.costUsd} + excluded.cost_usd`,
        },
      });
  }

  /**
   * Sets tokens aside against the user's quota for the day, if the day's usage and live reservations
   * leave anything; false when they do not. Calls for one user queue on a transaction-scoped advisory lock,
   * taken in a statement of its own: a statement's snapshot predates the lock it waits for, so the sum
   * must be read by the next one. The reservation is short-lived bookkeeping (it lapses on its own), so its
   * commit does not wait for the disk.
   */
  async reserve(request: ReservationRequest): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.execute(
        sql`select set_config('synchronous_commit', 'off', true),
          pg_advisory_xact_lock(hashtext(${`parley.bots.quota:${request.userId}`}))`,
      );
      const [row] = await reserveQuery.rows(tx, { ...request });
      return row?.reserved === true;
    });
  }

  /** Replaces a reservation with the usage its call recorded (see {@link add}), atomically. */
  async settle(reservationId: string, entry: UsageEntry): Promise<void> {
    await settleQuery.rows(this.db, { reservationId, ...entry });
  }

  /** Gives a reservation back unused: its call never happened, or was billed nothing. */
  async release(reservationId: string): Promise<void> {
    await this.db.delete(quotaReservations).where(eq(quotaReservations.id, reservationId));
  }

  /** Gives back every reservation, of every user; how many there were. */
  async releaseAll(): Promise<number> {
    const released = await this.db.delete(quotaReservations).returning({ id: quotaReservations.id });
    return released.length;
  }

  async forUser(userId: string): Promise<UsageRow[]> {
    return this.db.select().from(usage).where(eq(usage.userId, userId));
  }
}
