import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryCache } from '../src/memory-cache.ts';
import { runCacheContract } from '../src/testing/index.ts';
import { recordingLogger } from './recording-logger.ts';

runCacheContract('MemoryCache', async () => new MemoryCache({ logger: recordingLogger() }), {
  sharesStateAcrossInstances: false,
});

describe('MemoryCache', () => {
  it('sweeps expired entries nobody reads again', async (t) => {
    const cache = new MemoryCache({ sweepIntervalMs: 20, logger: recordingLogger() });
    t.after(() => cache.close());
    for (let i = 0; i < 100; i++) {
      await cache.set(`value-${i}`, 'value', 30);
      await cache.addMember(`set-${i}`, 'member', 30);
    }
    await cache.set('lasting', 'value');
    assert.equal(cache.size, 201);
    await sleep(120);
    assert.equal(cache.size, 1);
  });

  it('logs a failing handler instead of losing the error', async (t) => {
    const logger = recordingLogger();
    const cache = new MemoryCache({ logger });
    t.after(() => cache.close());
    await cache.subscribe('channel', () => {
      throw new Error('boom');
    });
    await cache.publish('channel', 'message');
    await sleep(10);
    assert.equal(logger.lines.length, 1);
    assert.equal(logger.lines[0]?.level, 'error');
    assert.deepEqual(logger.lines[0]?.details, { err: new Error('boom'), channel: 'channel' });
  });

  it('rejects value operations on a member set, as Redis does', async (t) => {
    const cache = new MemoryCache({ logger: recordingLogger() });
    t.after(() => cache.close());
    await cache.addMember('set', 'member', 60_000);
    await assert.rejects(cache.get('set'), TypeError);
    await assert.rejects(cache.setIfGreater('set', 'value'), TypeError);
    await assert.rejects(cache.increment('set', 60_000), TypeError);
    await cache.set('value', 'not a number');
    await assert.rejects(cache.increment('value', 60_000), TypeError);
    await assert.rejects(cache.members('value'), TypeError);
  });
});
