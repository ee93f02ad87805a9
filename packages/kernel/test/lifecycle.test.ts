import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lifecycle } from '../src/lifecycle.ts';
import { createLogger } from '../src/logger.ts';

describe('lifecycle', () => {
  it('stops in reverse order of creation, once, even when a step fails', async () => {
    const stopped: string[] = [];
    const lifecycle = new Lifecycle(createLogger({ level: 'silent' }));
    lifecycle.onStop('database', async () => {
      stopped.push('database');
    });
    lifecycle.onStop('bus', async () => {
      throw new Error('bus already gone');
    });
    lifecycle.onStop('http', async () => {
      stopped.push('http');
    });
    await Promise.all([lifecycle.stop(), lifecycle.stop()]);
    assert.deepEqual(stopped, ['http', 'database']);
  });
});
