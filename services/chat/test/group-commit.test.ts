import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommitter, type Outcome } from '../src/domain/group-commit.ts';

describe('group commit', () => {
  it('batches concurrent submissions into one commit and answers each caller', async () => {
    const batches: number[][] = [];
    const committer = new GroupCommitter<number, number>({
      commit: async (items) => {
        batches.push(items);
        return items.map((item) => ({ ok: true, value: item * 10 }));
      },
    });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => committer.submit(i)));
    assert.deepEqual(
      results,
      Array.from({ length: 50 }, (_, i) => i * 10),
    );
    assert.equal(batches.length, 1);
  });

  it('fails only the item its commit says failed', async () => {
    const committer = new GroupCommitter<number, number>({
      commit: async (items) =>
        items.map(
          (item): Outcome<number> =>
            item === 3 ? { ok: false, error: new Error('bad three') } : { ok: true, value: item },
        ),
    });
    const settled = await Promise.allSettled([1, 2, 3, 4].map((i) => committer.submit(i)));
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
  });

  it('retries each item alone when a whole batch fails, so one poisoned item costs only itself', async () => {
    const calls: number[][] = [];
    const committer = new GroupCommitter<number, number>({
      commit: async (items) => {
        calls.push(items);
        if (items.includes(2)) throw new Error('constraint violated by 2');
        return items.map((item) => ({ ok: true, value: item }));
      },
    });
    const settled = await Promise.allSettled([1, 2, 3].map((i) => committer.submit(i)));
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(calls[0], [1, 2, 3]);
    assert.equal(calls.length, 4);
  });

  it('caps the batch size and the batches in flight, gathering the rest for the next round', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const sizes: number[] = [];
    const committer = new GroupCommitter<number, number>({
      maxBatch: 10,
      maxInFlight: 2,
      commit: async (items) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        sizes.push(items.length);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return items.map((item) => ({ ok: true, value: item }));
      },
    });
    await Promise.all(Array.from({ length: 95 }, (_, i) => committer.submit(i)));
    assert.ok(maxInFlight <= 2);
    assert.ok(sizes.every((size) => size <= 10));
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      95,
    );
    assert.equal(committer.pending, 0);
  });
});
