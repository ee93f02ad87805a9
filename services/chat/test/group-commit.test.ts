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

  it('reports what every caller was told once they all have their answers', async () => {
    const answered: number[] = [];
    let reported: Outcome<number>[] | undefined;
    let answeredWhenReported: number[] = [];
    const committer = new GroupCommitter<number, number>({
      commit: async (items) =>
        items.map(
          (item): Outcome<number> =>
            item === 2 ? { ok: false, error: new Error('bad two') } : { ok: true, value: item * 10 },
        ),
      afterAnswering: (outcomes) => {
        reported = outcomes;
        answeredWhenReported = [...answered];
      },
    });
    await Promise.allSettled([1, 2, 3].map((i) => committer.submit(i).then((value) => answered.push(value))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      reported?.map((outcome) => (outcome.ok ? outcome.value : 'failed')),
      [10, 'failed', 30],
    );
    assert.deepEqual(answeredWhenReported, [10, 30], 'the callers had acted on their answers first');
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
      lanes: 2,
      laneOf: (item) => String(item % 2),
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

  it('commits one batch at a time per lane, in submission order, while lanes run side by side', async () => {
    const committed = new Map<string, number[]>();
    const busy = new Set<string>();
    let concurrent = 0;
    let maxConcurrent = 0;
    const committer = new GroupCommitter<{ key: string; n: number }, number>({
      lanes: 4,
      maxBatch: 3,
      laneOf: (item) => item.key,
      commit: async (items) => {
        const keys = new Set(items.map((item) => item.key));
        for (const key of keys) {
          assert.ok(!busy.has(key), `two batches of ${key} in flight`);
          busy.add(key);
        }
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await new Promise((resolve) => setTimeout(resolve, 2));
        for (const item of items) committed.set(item.key, [...(committed.get(item.key) ?? []), item.n]);
        for (const key of keys) busy.delete(key);
        concurrent--;
        return items.map((item) => ({ ok: true, value: item.n }));
      },
    });
    // 'a'..'d' hash to four different lanes.
    const items = Array.from({ length: 40 }, (_, n) => ({ key: 'abcd'[n % 4]!, n }));
    await Promise.all(items.map((item) => committer.submit(item)));
    for (const [key, ns] of committed) {
      assert.deepEqual(
        ns,
        items.filter((item) => item.key === key).map((item) => item.n),
      );
    }
    assert.ok(maxConcurrent > 1, 'lanes never committed side by side');
  });
});
