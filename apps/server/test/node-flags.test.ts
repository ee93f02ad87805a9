import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PARLEY_NODE_FLAGS, parleyNodeArguments } from '../src/node-flags.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe("Parley's V8 flags", () => {
  it('are accepted by this Node and take effect (the young generation may grow beyond the default)', () => {
    const heapLimit = (flags: readonly string[]) => {
      const result = spawnSync(
        process.execPath,
        [...flags, '-p', "require('node:v8').getHeapStatistics().heap_size_limit"],
        { encoding: 'utf8' },
      );
      // Node refuses an option it does not know ("bad option", exit 9).
      assert.equal(result.status, 0, result.stderr);
      return Number(result.stdout);
    };
    assert.ok(heapLimit(PARLEY_NODE_FLAGS) > heapLimit([]));
  });

  it('are what npm start and npm run dev run main.ts with', async () => {
    const { scripts } = JSON.parse(await readFile(`${root}/package.json`, 'utf8')) as {
      scripts: Record<string, string>;
    };
    const main = 'apps/server/src/main.ts';
    assert.equal(scripts.start, ['node', ...parleyNodeArguments(main)].join(' '));
    // `--watch` goes before the entry point, after the flags.
    assert.equal(scripts.dev, ['node', ...PARLEY_NODE_FLAGS, '--import', 'tsx', '--watch', main].join(' '));
  });
});
