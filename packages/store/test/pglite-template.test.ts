import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { openDatabase, queryRows } from '../src/database.ts';
import { ensurePgliteTemplate } from '../src/pglite-template.ts';

describe('embedded database template', () => {
  it('starts an empty data dir from the template, and keeps what is written there across restarts', async () => {
    await ensurePgliteTemplate();
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-template-'));
    try {
      const first = await openDatabase({ dataDir });
      await first.db.execute(sql`create table kept (value text)`);
      await first.db.execute(sql`insert into kept values ('still here')`);
      await first.close();
      const second = await openDatabase({ dataDir });
      const rows = await queryRows<{ value: string }>(second.db, sql`select value from kept`);
      await second.close();
      assert.deepEqual(rows, [{ value: 'still here' }]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
