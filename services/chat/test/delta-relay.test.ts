import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageDeltaEvent } from '@parley/contracts';
import { createLogger } from '@parley/kernel';
import { DeltaRelay } from '../src/realtime/delta-relay.ts';

const logger = createLogger({ level: 'silent' });
const raw = (conversationId: string, index: number, delta = 'x') =>
  JSON.stringify({ conversationId, draftId: 'd1', delta, index });

function harness(membersOf: (conversationId: string) => Promise<readonly string[]>) {
  const clock = { now: 0 };
  const emitted: { userIds: readonly string[]; delta: MessageDeltaEvent }[] = [];
  const relay = new DeltaRelay({
    membersOf,
    emit: (userIds, delta) => emitted.push({ userIds, delta }),
    logger,
    ttlMs: 1_000,
    now: () => clock.now,
  });
  return { relay, emitted, clock };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('delta relay', () => {
  it('looks a conversation up once per interval and keeps its deltas in order', async () => {
    let lookups = 0;
    let answer: (ids: string[]) => void = () => {};
    const { relay, emitted, clock } = harness(() => {
      lookups++;
      return new Promise((resolve) => {
        answer = resolve;
      });
    });
    relay.relay(raw('c1', 0, 'a'));
    relay.relay(raw('c1', 1, 'b'));
    assert.equal(emitted.length, 0, 'nothing goes out before the audience is known');
    answer(['u1', 'u2']);
    await settle();
    relay.relay(raw('c1', 2, 'c'));
    assert.deepEqual(
      emitted.map((e) => e.delta.delta),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(emitted[2]?.userIds, ['u1', 'u2']);
    assert.equal(lookups, 1);
    clock.now = 1_500;
    relay.relay(raw('c1', 3, 'd'));
    assert.equal(lookups, 2, 'the audience is looked up again once it is a second old');
  });

  it('uses an audience a send just committed without looking it up', () => {
    let lookups = 0;
    const { relay, emitted } = harness(async () => {
      lookups++;
      return ['stale'];
    });
    relay.remember('c1', ['u1', 'u2']);
    relay.relay(raw('c1', 0));
    assert.equal(lookups, 0);
    assert.deepEqual(emitted[0]?.userIds, ['u1', 'u2']);
  });

  it('asks again after a failed lookup, and drops malformed deltas', async () => {
    let calls = 0;
    const { relay, emitted } = harness(async () => {
      calls++;
      if (calls === 1) throw new Error('database away');
      return ['u1'];
    });
    relay.relay(raw('c1', 0));
    await settle();
    relay.relay(raw('c1', 1));
    await settle();
    relay.relay('not json');
    relay.relay(JSON.stringify({ conversationId: 7 }));
    await settle();
    assert.equal(calls, 2);
    assert.deepEqual(
      emitted.map((e) => e.delta.index),
      [1],
    );
  });
});
