import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayNudger } from '../src/events/relay-nudger.ts';

describe('relay nudger', () => {
  it('wakes the relay at once when it has not been woken for an interval', () => {
    let wakes = 0;
    const nudger = new RelayNudger(() => wakes++, 1_000);
    nudger.nudge();
    assert.equal(wakes, 1);
    nudger.stop();
  });

  it('folds the commits of one interval into one later wake', async () => {
    let clock = 0;
    let wakes = 0;
    const nudger = new RelayNudger(
      () => wakes++,
      20,
      () => clock,
    );
    nudger.nudge();
    clock = 5;
    nudger.nudge();
    nudger.nudge();
    assert.equal(wakes, 1, 'the second and third commits wait for the interval');
    clock = 25;
    await sleep(30);
    assert.equal(wakes, 2, 'one wake carries both later commits');
    nudger.stop();
  });

  it('drops a scheduled wake when stopped', async () => {
    let wakes = 0;
    const nudger = new RelayNudger(() => wakes++, 10);
    nudger.nudge();
    nudger.nudge();
    nudger.stop();
    await sleep(20);
    assert.equal(wakes, 1);
  });
});
