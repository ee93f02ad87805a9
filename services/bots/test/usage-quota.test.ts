import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '@parley/kernel';
import { migrate } from '@parley/store';
import type { TestDatabase } from '@parley/store/testing';
import { BOTS_MIGRATIONS } from '../src/build-bots.ts';
import { PriceTable } from '../src/domain/price-table.ts';
import { UsageMeter, usageDay } from '../src/domain/usage-meter.ts';
import { UsageRepository } from '../src/repositories/usage-repository.ts';
import { quotaReservations } from '../src/schema/schema.ts';
import { openTestDatabase } from './support/databases.ts';
import { sleep } from './support/harness.ts';

// The quota's reservations over the real repository, on PostgreSQL when DATABASE_URL is set (where
// reservations made side by side really run in parallel, on separate connections) and on PGlite otherwise.
let handle: TestDatabase;
let usage: UsageRepository;

before(async () => {
  handle = await openTestDatabase();
  await migrate(handle.database, { schema: 'bots', migrationsFolder: BOTS_MIGRATIONS });
  usage = new UsageRepository(handle.database.db);
});

after(async () => {
  await handle.dispose();
});

function meter(dailyQuota: number, reservationMs = 60_000): UsageMeter {
  return new UsageMeter(usage, new PriceTable(), { dailyQuota, reservationMs });
}

async function tokensToday(userId: string): Promise<number> {
  const rows = await usage.forUser(userId);
  return rows
    .filter((row) => row.day === usageDay())
    .reduce((sum, row) => sum + row.promptTokens + row.completionTokens, 0);
}

const call = { botId: 'bot_quota', model: 'quota-model' };

describe('daily quota reservations', () => {
  it('admits calls made at once only while usage and reservations stay below the quota', async () => {
    const userId = newId('usr');
    const quota = meter(1000);
    const made = await Promise.all(Array.from({ length: 25 }, () => quota.reserve(userId, 100)));
    assert.equal(made.filter((reservation) => reservation !== undefined).length, 10);
  });

  it('counts what a settled call used instead of what it reserved, and nothing for a released one', async () => {
    const userId = newId('usr');
    const quota = meter(1000);
    const first = await quota.reserve(userId, 600);
    const second = await quota.reserve(userId, 600);
    assert.ok(first && second);
    assert.equal(await quota.reserve(userId, 1), undefined, '1200 reserved');
    await first.settle({ ...call, promptTokens: 60, completionTokens: 40 });
    assert.equal(await tokensToday(userId), 100);
    const third = await quota.reserve(userId, 600);
    assert.ok(third, '100 used and 600 reserved leave room');
    await second.release();
    await third.release();
    assert.ok(await quota.reserve(userId, 800), 'only the 100 used count');
    assert.equal(await tokensToday(userId), 100);
  });

  it('stops counting a reservation nobody settled once it lapses (its process died)', async () => {
    const userId = newId('usr');
    const quota = meter(1000, 300);
    assert.ok(await quota.reserve(userId, 1000));
    assert.equal(await quota.reserve(userId, 10), undefined);
    await sleep(400);
    assert.ok(await quota.reserve(userId, 10), 'the lapsed reservation no longer counts');
  });

  it('writes no reservation without a quota, and meters the call when it is settled', async () => {
    const userId = newId('usr');
    const unlimited = meter(0);
    const reservation = await unlimited.reserve(userId, 1_000_000);
    assert.ok(reservation);
    const rows = await handle.database.db.select().from(quotaReservations);
    assert.ok(!rows.some((row) => row.userId === userId));
    await reservation.settle({ ...call, promptTokens: 5, completionTokens: 7 });
    assert.equal(await tokensToday(userId), 12);
  });
});
