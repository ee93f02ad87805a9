import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryCache } from '@parley/cache';
import { createLogger } from '@parley/kernel';
import { BotLookup } from '../src/domain/bot-lookup.ts';
import type { BotRow } from '../src/repositories/bots-repository.ts';
import { waitFor } from './support/harness.ts';

/** The bots table as the lookup sees it: rows by id, each read counted, a read's answer held on demand. */
class BotTable {
  readonly rows = new Map<string, BotRow>();
  reads = 0;
  hold: Promise<void> | undefined;
  async findById(id: string): Promise<BotRow | undefined> {
    this.reads++;
    const row = this.rows.get(id);
    await this.hold;
    return row;
  }
}

const bot = (id: string, active = true) => ({ id, active }) as BotRow;
const logger = createLogger({ level: 'silent' });

describe('the bot memory replies read their bots from', () => {
  const cache = new MemoryCache();
  after(() => cache.close());

  it('reads a bot once within its second, and again after', async () => {
    let now = 0;
    const table = new BotTable();
    table.rows.set('bot_a', bot('bot_a'));
    const lookup = new BotLookup(table, cache, logger, 1000, () => now);
    assert.equal((await lookup.find('bot_a'))?.id, 'bot_a');
    now = 999;
    await lookup.find('bot_a');
    assert.equal(table.reads, 1);
    now = 1000;
    await lookup.find('bot_a');
    assert.equal(table.reads, 2);
  });

  it('never remembers a bot that is not there, so a new bot is found at once', async () => {
    const table = new BotTable();
    const lookup = new BotLookup(table, cache, logger);
    assert.equal(await lookup.find('bot_new'), undefined);
    table.rows.set('bot_new', bot('bot_new'));
    assert.equal((await lookup.find('bot_new'))?.id, 'bot_new');
  });

  it('forgets a changed bot here at once and on every other process when told', async () => {
    const table = new BotTable();
    table.rows.set('bot_b', bot('bot_b'));
    const here = new BotLookup(table, cache, logger);
    const there = new BotLookup(table, cache, logger);
    await here.start();
    await there.start();
    try {
      await here.find('bot_b');
      await there.find('bot_b');
      table.rows.set('bot_b', bot('bot_b', false));
      await here.changed(['bot_b']);
      assert.equal((await here.find('bot_b'))?.active, false);
      await waitFor(async () => (await there.find('bot_b'))?.active === false);
    } finally {
      await here.stop();
      await there.stop();
    }
  });

  it('does not keep a read that a change overtook', async () => {
    const table = new BotTable();
    table.rows.set('bot_c', bot('bot_c'));
    const lookup = new BotLookup(table, cache, logger);
    let release: () => void = () => {};
    table.hold = new Promise((resolve) => {
      release = resolve;
    });
    const stale = lookup.find('bot_c');
    await lookup.changed(['bot_c']);
    table.rows.set('bot_c', bot('bot_c', false));
    release();
    assert.equal((await stale)?.active, true);
    table.hold = undefined;
    assert.equal((await lookup.find('bot_c'))?.active, false);
  });
});
