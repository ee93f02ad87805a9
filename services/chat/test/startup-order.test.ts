import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '@parley/bus';
import { queryRows } from '@parley/store';
import { openPgliteTestDatabase } from '@parley/store/testing';
import { sql } from 'drizzle-orm';
import { IDENTITY_CONSUMER_GROUP } from '../src/events/identity-consumer.ts';
import { logger, startChat, waitFor } from './support/harness.ts';

// On PGlite, as `npm start` runs by default, identity's relay publishes the bootstrap admin's registration
// from its onReady hook before chat's runs and subscribes: chat has it only as a replay of the bus's history.
describe('identity and chat starting in one process on PGlite', () => {
  it("keeps the bootstrap admin's registration unsettled, and its outbox row, until chat has handled it", async () => {
    const database = await openPgliteTestDatabase();
    const { db } = database.database;
    const handledByChat = async (eventId: string) =>
      (
        await queryRows(
          db,
          sql`select 1 from chat.processed_events
            where consumer = ${IDENTITY_CONSUMER_GROUP} and event_id = ${eventId}`,
        )
      ).length === 1;
    const bus = new MemoryBus({ logger });
    // Asked the moment the bus lets an event go, which is when its outbox row is deleted.
    const handledWhenSettled = new Map<string, Promise<boolean>>();
    bus.volatileEvents.onSettled((eventId) => handledWhenSettled.set(eventId, handledByChat(eventId)));
    const chat = await startChat({ database, ownsDatabase: true, bus });
    try {
      let registration: string | undefined;
      await waitFor(async () => {
        const [row] = await queryRows<{ eventId: string }>(
          db,
          sql`select event_id as "eventId" from chat.processed_events where consumer = ${IDENTITY_CONSUMER_GROUP}`,
        );
        registration = row?.eventId;
        return registration !== undefined;
      });
      await waitFor(() => handledWhenSettled.has(registration as string));
      assert.equal(await handledWhenSettled.get(registration as string), true, 'settled only once handled');
    } finally {
      await chat.close();
      await bus.close();
    }
  });
});
