import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEvent, subjectMatches } from '../src/events.ts';
import { isId, newId, newSecretToken } from '../src/ids.ts';

describe('ids', () => {
  it('are prefixed, opaque and unique', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('msg')));
    assert.equal(ids.size, 10_000);
    for (const id of ids) assert.ok(isId(id, 'msg'), id);
  });

  it('sort by creation time across milliseconds', async () => {
    const first = newId('usr');
    await new Promise((resolve) => setTimeout(resolve, 3));
    const second = newId('usr');
    assert.ok(first < second);
  });

  it('reject lookalikes', () => {
    assert.equal(isId('usr_123'), false);
    assert.equal(isId('usr_01jd0000000000000000000000', 'msg'), false);
    assert.equal(isId("usr_01jd00000000000000000000'0"), false);
  });

  it('secret tokens carry 256 bits', () => {
    assert.equal(Buffer.from(newSecretToken(), 'base64url').length, 32);
  });
});

describe('events', () => {
  it('have a complete envelope', () => {
    const event = createEvent('chat.message.created', { a: 1 }, { actor: { type: 'user', id: 'usr_x' } });
    assert.ok(isId(event.id, 'evt'));
    assert.equal(event.version, 1);
    assert.equal(event.type, 'chat.message.created');
    assert.ok(!Number.isNaN(Date.parse(event.occurredAt)));
    assert.deepEqual(event.data, { a: 1 });
  });

  it('match subjects the NATS way', () => {
    assert.ok(subjectMatches('chat.message.created', 'chat.message.created'));
    assert.ok(subjectMatches('chat.*.created', 'chat.message.created'));
    assert.ok(subjectMatches('chat.>', 'chat.message.created'));
    assert.ok(!subjectMatches('chat.>', 'chat'));
    assert.ok(!subjectMatches('chat.*', 'chat.message.created'));
    assert.ok(!subjectMatches('identity.>', 'chat.message.created'));
  });
});
