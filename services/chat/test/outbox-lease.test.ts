import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryBus, type Subscription } from '@parley/bus';
import { ChatEvents } from '@parley/contracts';
import { queryRows } from '@parley/store';
import { sql } from 'drizzle-orm';
import { bearer, type ChatHarness, logger, startChat, waitFor } from './support/harness.ts';

/*
 * A process publishes the events it commits itself, under a lease that keeps every relay away; if it dies
 * first, they wait for the lease to lapse (a bot's answer to the last message a dead chat node took, say).
 * PARLEY_OUTBOX_LEASE_MS sets how long. On the in-process bus a row stays, leased, until every group has
 * handled its event, so a group that does not finish shows the lease chat wrote.
 */
describe('PARLEY_OUTBOX_LEASE_MS', () => {
  const LEASE_MS = 4000;
  let chat: ChatHarness;
  let holder: Subscription;
  let finish!: () => void;
  const unfinished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const seen: string[] = [];

  before(async () => {
    const bus = new MemoryBus({ logger });
    holder = await bus.subscribe({
      group: 'test-unfinished',
      subjects: [ChatEvents.messageCreated],
      handler: async (event) => {
        seen.push(event.id);
        await unfinished;
      },
    });
    chat = await startChat({ bus, env: { PARLEY_OUTBOX_LEASE_MS: String(LEASE_MS) } });
  });
  after(async () => {
    finish();
    await holder.close();
    await chat.close();
  });

  it('is how long a chat event stays its process’s to publish, not the 30 s default', async () => {
    const owner = await chat.user();
    const other = await chat.user();
    const group = await chat.createGroup(owner, [other.id]);
    const sent = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${group.id}/messages`,
      headers: bearer(owner),
      payload: { body: 'leased', clientMessageId: 'lease-1' },
    });
    assert.equal(sent.statusCode, 201, sent.body);
    await waitFor(() => seen.length > 0);
    const rows = await queryRows<{ left_ms: number }>(
      chat.database.database.db,
      sql`select extract(epoch from lease_until - now()) * 1000 as left_ms from chat.outbox
        where type = ${ChatEvents.messageCreated}`,
    );
    assert.equal(rows.length, 1);
    const left = Number(rows[0]!.left_ms);
    assert.ok(left > 0 && left <= LEASE_MS, `the lease ends ${left} ms from now, within ${LEASE_MS} ms`);
  });
});
