import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IdentityEvents } from '@parley/contracts';
import { createEvent, type EventEnvelope, newId } from '@parley/kernel';
import { queryRows } from '@parley/store';
import { sql } from 'drizzle-orm';
import { IDENTITY_CONSUMER_GROUP } from '../src/events/identity-consumer.ts';
import { bearer, type ChatHarness, INTERNAL_TOKEN, startChat, type TestUser } from './support/harness.ts';

const service = { authorization: `Bearer ${INTERNAL_TOKEN}` };
const BASE = '/internal/v1/chat/dead-letters';

describe('chat dead letters: listed, replayed into their consumer, discarded', () => {
  let chat: ChatHarness;
  let alice: TestUser;

  /** What the consumer's dead-letter sink writes once an event has failed every retry. */
  const deadLetter = async (consumer: string, event: EventEnvelope): Promise<number> => {
    const [row] = await queryRows<{ id: number }>(
      chat.database.database.db,
      sql`insert into chat.dead_letters (consumer, event_id, type, envelope, error, attempts)
        values (${consumer}, ${event.id}, ${event.type}, ${JSON.stringify(event)}::jsonb, 'database was down', 5)
        returning id`,
    );
    return Number(row?.id);
  };
  const registered = (userId: string) =>
    createEvent(IdentityEvents.userRegistered, {
      user: {
        id: userId,
        email: `${userId}@example.test`,
        displayName: 'Late Larry',
        role: 'user',
        avatarUrl: null,
        active: true,
      },
    });
  const openGroupWith = (memberId: string) =>
    chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(alice),
      payload: { type: 'group', memberIds: [memberId] },
    });

  before(async () => {
    chat = await startChat();
    alice = await chat.user();
  });
  after(() => chat.close());

  it('answers only the service token', async () => {
    const anonymous = await chat.app.inject({ method: 'GET', url: BASE });
    assert.equal(anonymous.statusCode, 401);
    const user = await chat.app.inject({ method: 'GET', url: BASE, headers: bearer(alice) });
    assert.equal(user.statusCode, 401);
    assert.equal(user.json().code, 'unauthorized');
  });

  it('replays an event into the consumer that gave up on it, and then forgets it', async () => {
    const larry = newId('usr');
    // Chat never took in Larry's registration: it does not know him.
    assert.equal((await openGroupWith(larry)).statusCode, 404);
    const id = await deadLetter(IDENTITY_CONSUMER_GROUP, registered(larry));

    const listed = await chat.app.inject({
      method: 'GET',
      url: `${BASE}?consumer=${IDENTITY_CONSUMER_GROUP}`,
      headers: service,
    });
    assert.equal(listed.statusCode, 200);
    const item = listed.json().items.find((entry: { id: number }) => entry.id === id);
    assert.equal(item.error, 'database was down');
    assert.equal(item.envelope.data.user.id, larry);

    const replayed = await chat.app.inject({ method: 'POST', url: `${BASE}/${id}/replay`, headers: service });
    assert.equal(replayed.statusCode, 200, replayed.body);
    assert.deepEqual(replayed.json(), { replayed: true });
    assert.equal((await openGroupWith(larry)).statusCode, 201, 'chat knows him now');
    const again = await chat.app.inject({ method: 'POST', url: `${BASE}/${id}/replay`, headers: service });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().code, 'not_found');
  });

  it('keeps an event that fails again, with the new error, and refuses one for a consumer it does not run', async () => {
    const broken = { ...registered(newId('usr')), data: {} } as EventEnvelope;
    const id = await deadLetter(IDENTITY_CONSUMER_GROUP, broken);
    const replayed = await chat.app.inject({ method: 'POST', url: `${BASE}/${id}/replay`, headers: service });
    assert.equal(replayed.statusCode, 409);
    assert.equal(replayed.json().code, 'replay_failed');
    const [kept] = (
      await chat.app.inject({ method: 'GET', url: `${BASE}?cursor=${id - 1}&limit=1`, headers: service })
    ).json().items;
    assert.equal(kept.id, id);
    assert.equal(kept.attempts, 6);
    assert.notEqual(kept.error, 'database was down');

    const elsewhere = await deadLetter('bots.messages', registered(newId('usr')));
    const refused = await chat.app.inject({
      method: 'POST',
      url: `${BASE}/${elsewhere}/replay`,
      headers: service,
    });
    assert.equal(refused.statusCode, 409);
    assert.equal(refused.json().code, 'consumer_not_here');

    for (const row of [id, elsewhere]) {
      const discarded = await chat.app.inject({ method: 'DELETE', url: `${BASE}/${row}`, headers: service });
      assert.equal(discarded.statusCode, 204);
    }
    const gone = await chat.app.inject({ method: 'DELETE', url: `${BASE}/${id}`, headers: service });
    assert.equal(gone.statusCode, 404);
  });

  it('pages the list and refuses bad paging with a problem', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await deadLetter(IDENTITY_CONSUMER_GROUP, registered(newId('usr'))));
    const first = (await chat.app.inject({ method: 'GET', url: `${BASE}?limit=2`, headers: service })).json();
    assert.equal(first.items.length, 2);
    assert.equal(first.nextCursor, String(first.items[1].id));
    const rest = (
      await chat.app.inject({
        method: 'GET',
        url: `${BASE}?limit=2&cursor=${first.nextCursor}`,
        headers: service,
      })
    ).json();
    assert.deepEqual(
      [...first.items, ...rest.items].map((item: { id: number }) => item.id),
      ids,
    );
    for (const query of ['limit=0', 'limit=abc', 'cursor=-1', 'limit=201']) {
      const bad = await chat.app.inject({ method: 'GET', url: `${BASE}?${query}`, headers: service });
      assert.equal(bad.statusCode, 400, query);
      assert.equal(bad.json().code, 'validation_failed', query);
    }
    const badId = await chat.app.inject({ method: 'POST', url: `${BASE}/abc/replay`, headers: service });
    assert.equal(badId.statusCode, 400);
  });
});
