import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { queryRows } from '@parley/store';
import { sql } from 'drizzle-orm';
import { bearer, type ChatHarness, INTERNAL_TOKEN, startChat, type TestUser } from './support/harness.ts';

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

function multipart(field: string, name: string, content: Buffer, type = 'application/octet-stream') {
  const boundary = '----parleytest';
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload: body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('chat REST: messages', () => {
  let chat: ChatHarness;
  let alice: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  let conversationId: string;

  before(async () => {
    chat = await startChat();
    [alice, bob, eve] = await Promise.all([chat.user(), chat.user(), chat.user()]);
    const created = await chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(alice),
      payload: { type: 'group', memberIds: [bob.id] },
    });
    conversationId = created.json().id;
  });
  after(() => chat.close());

  const send = (user: TestUser, payload: object, id = conversationId) =>
    chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${id}/messages`,
      headers: bearer(user),
      payload,
    });
  const get = (user: TestUser, url: string) => chat.app.inject({ method: 'GET', url, headers: bearer(user) });
  /** Every file under the uploads dir (temporary ones included) and every attachment row. */
  const stored = async () => ({
    files: (await readdir(join(chat.dataDir, 'uploads'), { recursive: true }).catch(() => [])).sort(),
    rows: await queryRows<{ id: string }>(
      chat.database.database.db,
      sql`select id from chat.attachments order by id`,
    ),
  });

  it('stores a message with the next seq and returns it with 201', async () => {
    const response = await send(alice, { body: 'hello bob', clientMessageId: 'c-1' });
    assert.equal(response.statusCode, 201);
    const message = response.json();
    assert.match(message.id, /^msg_/);
    assert.equal(message.seq, 1);
    assert.equal(message.senderId, alice.id);
    assert.equal(message.senderType, 'user');
    assert.equal(message.type, 'text');
    assert.equal(message.body, 'hello bob');
    assert.deepEqual(message.attachments, []);
    assert.equal(message.clientMessageId, 'c-1');
  });

  it('answers a repeated clientMessageId with 200 and the original, storing nothing new', async () => {
    const again = await send(alice, { body: 'hello bob (retry)', clientMessageId: 'c-1' });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().seq, 1);
    assert.equal(again.json().body, 'hello bob');
    const next = await send(alice, { body: 'second' });
    assert.equal(next.json().seq, 2);
    // The same clientMessageId from someone else is a different message.
    const bobs = await send(bob, { body: 'from bob', clientMessageId: 'c-1' });
    assert.equal(bobs.statusCode, 201);
    assert.equal(bobs.json().seq, 3);
  });

  it('refuses a body over the limit with 413 payload_too_large, and empty bodies with 400', async () => {
    const tooLong = await send(alice, { body: 'é'.repeat(8193) });
    assert.equal(tooLong.statusCode, 413);
    assert.equal(tooLong.json().code, 'payload_too_large');
    assert.equal((await send(alice, { body: '   ' })).statusCode, 400);
    assert.equal((await send(alice, { body: 'x', type: 'system' })).statusCode, 400);
    assert.equal((await send(alice, { body: 'x', unknown: true })).statusCode, 400);
  });

  it('answers values the database cannot store with 400, and keeps what is stored intact', async () => {
    const before = (await get(bob, `/api/v1/conversations/${conversationId}`)).json();
    const refused = [
      await send(alice, { body: 'nul \u0000 inside' }),
      await send(alice, { body: 'half an emoji \ud83d here' }),
      await send(alice, { body: 'fine', clientMessageId: 'key\u0000' }),
      await chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${conversationId}/read`,
        headers: bearer(bob),
        payload: { seq: 99_999_999_999 },
      }),
      await get(alice, `/api/v1/conversations/${conversationId}/messages?afterSeq=99999999999`),
      await get(alice, `/api/v1/search/messages?q=${encodeURIComponent('a\u0000b')}`),
      await get(alice, `/api/v1/conversations/${encodeURIComponent('cnv_\u0000')}`),
    ];
    for (const response of refused) {
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json().code, 'validation_failed');
    }
    const after = (await get(bob, `/api/v1/conversations/${conversationId}`)).json();
    assert.equal(after.lastSeq, before.lastSeq);
    assert.deepEqual(after.lastMessage, before.lastMessage);
    const next = await send(alice, { body: 'still here' });
    assert.equal(next.json().seq, before.lastSeq + 1, 'no seq was spent on a refused send');

    // A refused system message leaves no conversation behind.
    const list = async () => (await get(alice, '/api/v1/conversations?limit=100')).json().items.length;
    const conversations = await list();
    const openWith = (systemMessage: string) =>
      chat.app.inject({
        method: 'POST',
        url: '/api/v1/conversations',
        headers: bearer(alice),
        payload: { type: 'support', systemMessage },
      });
    const create = await openWith('welcome \u0000');
    assert.equal(create.statusCode, 400, create.body);
    assert.equal(await list(), conversations);
    // So does one that is only blanks, which a message may not be either; the error names the field.
    const blank = await openWith(' \n\t ');
    assert.equal(blank.statusCode, 400, blank.body);
    assert.deepEqual(
      blank.json().errors.map((error: { path: string }) => error.path),
      ['systemMessage'],
    );
    assert.equal(await list(), conversations);
  });

  it('refuses a clientMessageId the sender already used in another conversation with 409', async () => {
    const group = async () =>
      (
        await chat.app.inject({
          method: 'POST',
          url: '/api/v1/conversations',
          headers: bearer(alice),
          payload: { type: 'group', memberIds: [bob.id] },
        })
      ).json().id as string;
    const other = await group();
    assert.equal((await send(alice, { body: 'here', clientMessageId: 'reused-1' })).statusCode, 201);
    const reused = await send(alice, { body: 'there', clientMessageId: 'reused-1' }, other);
    assert.equal(reused.statusCode, 409, reused.body);
    assert.equal(reused.json().code, 'client_message_id_reused');
    const history = (await get(bob, `/api/v1/conversations/${other}/messages`)).json().items;
    assert.equal(history.length, 0);
    // At the same moment, in two conversations (committed side by side when they fall in different
    // lanes, or in one batch): one is stored, the other refused, none fails.
    for (let i = 0; i < 6; i++) {
      const [one, two] = [await group(), await group()];
      const answers = await Promise.all([
        send(alice, { body: 'a', clientMessageId: `reused-at-once-${i}` }, one),
        send(alice, { body: 'b', clientMessageId: `reused-at-once-${i}` }, two),
      ]);
      assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [201, 409], answers[1]?.body);
    }
  });

  it('hides the conversation from outsiders: 404 for reads and writes', async () => {
    assert.equal((await send(eve, { body: 'let me in' })).statusCode, 404);
    assert.equal((await get(eve, `/api/v1/conversations/${conversationId}/messages`)).statusCode, 404);
    assert.equal((await get(eve, `/api/v1/conversations/${conversationId}`)).statusCode, 404);
    assert.equal((await get(alice, '/api/v1/conversations/cnv_doesnotexist')).statusCode, 404);
  });

  it('lets the author edit and delete (tombstone) their own messages only', async () => {
    const original = (await send(bob, { body: 'typo hree' })).json();
    const url = `/api/v1/conversations/${conversationId}/messages/${original.id}`;
    const byOther = await chat.app.inject({
      method: 'PATCH',
      url,
      headers: bearer(alice),
      payload: { body: 'hacked' },
    });
    assert.equal(byOther.statusCode, 403);
    const edited = await chat.app.inject({
      method: 'PATCH',
      url,
      headers: bearer(bob),
      payload: { body: 'typo here' },
    });
    assert.equal(edited.statusCode, 200);
    assert.equal(edited.json().body, 'typo here');
    assert.ok(edited.json().editedAt);
    assert.equal((await chat.app.inject({ method: 'DELETE', url, headers: bearer(alice) })).statusCode, 403);
    assert.equal((await chat.app.inject({ method: 'DELETE', url, headers: bearer(bob) })).statusCode, 204);
    const history = (
      await get(bob, `/api/v1/conversations/${conversationId}/messages?afterSeq=${original.seq - 1}`)
    ).json();
    const tombstone = history.items[0];
    assert.equal(tombstone.id, original.id);
    assert.equal(tombstone.seq, original.seq);
    assert.equal(tombstone.body, '');
    assert.ok(tombstone.deletedAt);
    const editDeleted = await chat.app.inject({
      method: 'PATCH',
      url,
      headers: bearer(bob),
      payload: { body: 'again' },
    });
    assert.equal(editDeleted.statusCode, 409);
  });

  it('pages history by seq in both directions, always in seq order', async () => {
    const group = await chat.createGroup(alice, [bob.id]);
    for (let i = 1; i <= 7; i++) await send(alice, { body: `m${i}` }, group.id);
    const base = `/api/v1/conversations/${group.id}/messages`;
    const forward: number[] = [];
    let page = (await get(bob, `${base}?afterSeq=0&limit=3`)).json();
    forward.push(...page.items.map((m: { seq: number }) => m.seq));
    while (page.nextCursor) {
      page = (await get(bob, `${base}?cursor=${page.nextCursor}&limit=3`)).json();
      forward.push(...page.items.map((m: { seq: number }) => m.seq));
    }
    assert.deepEqual(forward, [1, 2, 3, 4, 5, 6, 7]);
    const newest = (await get(bob, `${base}?limit=3`)).json();
    assert.deepEqual(
      newest.items.map((m: { seq: number }) => m.seq),
      [5, 6, 7],
    );
    const older = (await get(bob, `${base}?cursor=${newest.nextCursor}&limit=3`)).json();
    assert.deepEqual(
      older.items.map((m: { seq: number }) => m.seq),
      [2, 3, 4],
    );
    const before = (await get(bob, `${base}?beforeSeq=3`)).json();
    assert.deepEqual(
      before.items.map((m: { seq: number }) => m.seq),
      [1, 2],
    );
    assert.equal(before.nextCursor, null);
    assert.equal((await get(bob, `${base}?afterSeq=1&beforeSeq=3`)).statusCode, 400);
    assert.equal((await get(bob, `${base}?afterSeq=-1`)).statusCode, 400);
    assert.equal((await get(bob, `${base}?cursor=zzz`)).statusCode, 400);
    // A cursor's seq beyond any there can be is as invalid as any other made-up cursor.
    for (const cursor of ['a2147483648', 'b9999999999']) {
      const beyond = await get(bob, `${base}?cursor=${cursor}`);
      assert.equal(beyond.statusCode, 400, beyond.body);
      assert.equal(beyond.json().detail, 'The cursor is not valid.');
      assert.deepEqual(beyond.json().errors, [{ path: 'cursor', message: 'is not a cursor' }]);
    }
    assert.equal((await get(bob, `${base}?cursor=a2147483647`)).json().items.length, 0);

    // Without a limit, a page holds 20, as every list does.
    for (let i = 8; i <= 25; i++) await send(alice, { body: `m${i}` }, group.id);
    const latest = (await get(bob, base)).json();
    assert.deepEqual(
      latest.items.map((m: { seq: number }) => m.seq),
      Array.from({ length: 20 }, (_, i) => i + 6),
    );
    assert.notEqual(latest.nextCursor, null);
  });

  it('counts unread messages from others until a read receipt', async () => {
    const group = await chat.createGroup(alice, [bob.id]);
    for (let i = 0; i < 3; i++) await send(alice, { body: `unread ${i}` }, group.id);
    const view = (await get(bob, `/api/v1/conversations/${group.id}`)).json();
    assert.equal(view.unreadCount, 3);
    assert.equal(view.lastSeq, 3);
    assert.equal(view.lastMessage.body, 'unread 2');
    assert.equal((await get(alice, `/api/v1/conversations/${group.id}`)).json().unreadCount, 0);
    const read = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${group.id}/read`,
      headers: bearer(bob),
      payload: { seq: 2 },
    });
    assert.equal(read.statusCode, 204);
    assert.equal((await get(bob, `/api/v1/conversations/${group.id}`)).json().unreadCount, 1);
    const outsider = await chat.app.inject({
      method: 'POST',
      url: `/api/v1/conversations/${group.id}/read`,
      headers: bearer(eve),
      payload: { seq: 2 },
    });
    assert.equal(outsider.statusCode, 404);
  });

  it('tells staff who have not joined a support conversation that receipts need membership', async () => {
    const [agent, customer] = await Promise.all([chat.user('agent'), chat.user()]);
    const supportId = (await chat.createSupport(customer)).id;
    await send(customer, { body: 'anyone there?' }, supportId);
    const read = () =>
      chat.app.inject({
        method: 'POST',
        url: `/api/v1/conversations/${supportId}/read`,
        headers: bearer(agent),
        payload: { seq: 1 },
      });
    const early = await read();
    assert.equal(early.statusCode, 409, early.body);
    assert.equal(early.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(early.json().code, 'not_a_member');
    // Answering makes the agent a member, whose read position is then kept.
    await send(agent, { body: 'Hello, I am here to help.' }, supportId);
    assert.equal((await read()).statusCode, 204);
  });

  it('searches the full text of the caller’s conversations only (PostgreSQL FTS, on PGlite too)', async () => {
    await send(alice, { body: 'The quarterly report is ready for review' });
    const eveOwn = await chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(eve),
      payload: { type: 'group', memberIds: [] },
    });
    await send(eve, { body: 'secret quarterly numbers' }, eveOwn.json().id);
    const found = (await get(bob, '/api/v1/search/messages?q=quarterly')).json();
    assert.equal(found.items.length, 1);
    assert.match(found.items[0].body, /quarterly report/);
    const eves = (await get(eve, '/api/v1/search/messages?q=quarterly')).json();
    assert.equal(eves.items.length, 1);
    assert.match(eves.items[0].body, /secret/);
    const phrase = (
      await get(bob, `/api/v1/search/messages?q=${encodeURIComponent('"report is ready"')}`)
    ).json();
    assert.equal(phrase.items.length, 1);
    assert.equal((await get(bob, '/api/v1/search/messages')).statusCode, 400);
    const odd = await get(bob, `/api/v1/search/messages?q=${encodeURIComponent('!!! & | ( :*')}`);
    assert.equal(odd.statusCode, 200);
  });

  it('tells services, and only them, which message a sender posted under a clientMessageId', async () => {
    const clientMessageId = 'reply:lookup-test';
    const senderId = 'bot_lookup';
    const lookup = (id: string, query: Record<string, string>, token = INTERNAL_TOKEN) =>
      chat.app.inject({
        method: 'GET',
        url: `/internal/v1/chat/conversations/${id}/messages/posted?${new URLSearchParams(query)}`,
        headers: { authorization: `Bearer ${token}` },
      });
    const wanted = { senderId, clientMessageId };
    const absent = await lookup(conversationId, wanted);
    assert.equal(absent.statusCode, 404);
    assert.match(String(absent.headers['content-type']), /application\/problem\+json/);

    const posted = await chat.app.inject({
      method: 'POST',
      url: `/internal/v1/chat/conversations/${conversationId}/messages`,
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
      payload: { senderId, senderType: 'system', body: 'Posted once.', clientMessageId },
    });
    assert.equal(posted.statusCode, 201, posted.body);
    const found = await lookup(conversationId, wanted);
    assert.equal(found.statusCode, 200, found.body);
    assert.equal(found.json().id, posted.json().id);
    assert.equal(found.json().seq, posted.json().seq);
    assert.equal(found.json().body, 'Posted once.');

    // Another sender's key, and the same key asked of another conversation, name nothing.
    assert.equal((await lookup(conversationId, { senderId: 'bot_other', clientMessageId })).statusCode, 404);
    const other = await chat.app.inject({
      method: 'POST',
      url: '/api/v1/conversations',
      headers: bearer(eve),
      payload: { type: 'group', memberIds: [bob.id] },
    });
    assert.equal(other.statusCode, 201);
    assert.equal((await lookup(other.json().id, wanted)).statusCode, 404);
    assert.equal((await lookup('cnv_nonexistent', wanted)).statusCode, 404);

    // The service token only: no token, a wrong one, a user's.
    assert.equal((await lookup(conversationId, wanted, 'wrong')).statusCode, 401);
    assert.equal((await lookup(conversationId, wanted, alice.token)).statusCode, 401);
    const anonymous = await chat.app.inject({
      method: 'GET',
      url: `/internal/v1/chat/conversations/${conversationId}/messages/posted?${new URLSearchParams(wanted)}`,
    });
    assert.equal(anonymous.statusCode, 401);
    assert.equal((await lookup(conversationId, { senderId })).statusCode, 400);

    const document = (await chat.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(document.paths['/internal/v1/chat/conversations/{id}/messages/posted'], undefined);
  });

  describe('attachments', () => {
    it('takes an upload, types it by its bytes, and serves it only to members it was sent to', async () => {
      const upload = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'photo.txt', PNG, 'text/plain'), bearer(alice)),
      });
      assert.equal(upload.statusCode, 201, upload.body);
      const attachment = upload.json();
      assert.equal(attachment.mimeType, 'image/png');
      assert.equal(attachment.name, 'photo.txt');
      assert.equal(attachment.size, PNG.length);
      assert.equal(attachment.url, `/api/v1/uploads/${attachment.id}`);
      // Not yet sent: only the uploader sees it.
      assert.equal((await get(bob, attachment.url)).statusCode, 404);
      const own = await get(alice, attachment.url);
      assert.equal(own.statusCode, 200);
      assert.deepEqual(own.rawPayload, PNG);
      const byEve = await send(eve, { body: '', attachmentIds: [attachment.id] }, conversationId);
      assert.equal(byEve.statusCode, 404);
      const message = await send(alice, { body: '', attachmentIds: [attachment.id] });
      assert.equal(message.statusCode, 201);
      assert.equal(message.json().type, 'image');
      assert.equal(message.json().attachments[0].id, attachment.id);
      const forBob = await get(bob, attachment.url);
      assert.equal(forBob.statusCode, 200);
      assert.equal(forBob.headers['content-type'], 'image/png');
      assert.deepEqual(forBob.rawPayload, PNG);
      assert.equal((await get(eve, attachment.url)).statusCode, 404);
      const notMine = await send(bob, { body: 'x', attachmentIds: [attachment.id] });
      assert.equal(notMine.statusCode, 400);

      // Deleting the message takes the attachment from the members; the uploader keeps it.
      const deleted = await chat.app.inject({
        method: 'DELETE',
        url: `/api/v1/conversations/${conversationId}/messages/${message.json().id}`,
        headers: bearer(alice),
      });
      assert.equal(deleted.statusCode, 204);
      assert.equal((await get(bob, attachment.url)).statusCode, 404);
      assert.equal((await get(alice, attachment.url)).statusCode, 200);
    });

    it('serves what a customer sent in support to staff who read it without joining, and no one else', async () => {
      const [agent, customer, otherCustomer] = await Promise.all([
        chat.user('agent'),
        chat.user(),
        chat.user(),
      ]);
      const supportId = (await chat.createSupport(customer)).id;
      const upload = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'error.png', PNG, 'image/png'), bearer(customer)),
      });
      const attachment = upload.json();
      const sent = await send(
        customer,
        { body: 'this is what I see', attachmentIds: [attachment.id] },
        supportId,
      );
      assert.equal(sent.statusCode, 201, sent.body);
      // The agent reads the message, attachment and all, without having joined...
      const history = (await get(agent, `/api/v1/conversations/${supportId}/messages`)).json();
      assert.equal(history.items[0].attachments[0].url, attachment.url);
      // ...so the attachment's own link must open for them too.
      const forAgent = await get(agent, attachment.url);
      assert.equal(forAgent.statusCode, 200, forAgent.body);
      assert.deepEqual(forAgent.rawPayload, PNG);
      // Staff rights reach support and bot conversations only, and users have none.
      assert.equal((await get(otherCustomer, attachment.url)).statusCode, 404);
      const groupUpload = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'private.png', PNG, 'image/png'), bearer(alice)),
      });
      await send(alice, { body: '', attachmentIds: [groupUpload.json().id] });
      assert.equal((await get(agent, groupUpload.json().url)).statusCode, 404);
      // A deleted message takes its attachment from staff as from members.
      await chat.app.inject({
        method: 'DELETE',
        url: `/api/v1/conversations/${supportId}/messages/${sent.json().id}`,
        headers: bearer(customer),
      });
      assert.equal((await get(agent, attachment.url)).statusCode, 404);
    });

    it('refuses types outside the allow list (sniffed, whatever the name says) and files over the limit', async () => {
      const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100, 0)]);
      const refused = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'cat.png', exe, 'image/png'), bearer(alice)),
      });
      assert.equal(refused.statusCode, 415);
      const big = Buffer.alloc(70 * 1024, 'a');
      const tooBig = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'big.txt', big, 'text/plain'), bearer(alice)),
      });
      assert.equal(tooBig.statusCode, 413);
      const noFile = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: { ...bearer(alice), 'content-type': 'application/json' },
        payload: { file: 'x' },
      });
      assert.equal(noFile.statusCode, 415);
      assert.equal(noFile.json().code, 'unsupported_media_type');
      const wrongField = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('document', 'a.txt', Buffer.from('hello')), bearer(alice)),
      });
      assert.equal(wrongField.statusCode, 400);
    });

    it('tells a body that is not multipart to send multipart/form-data, whatever its type', async () => {
      for (const contentType of ['text/plain', 'application/json', 'application/octet-stream']) {
        const response = await chat.app.inject({
          method: 'POST',
          url: '/api/v1/uploads',
          headers: { ...bearer(alice), 'content-type': contentType },
          payload: contentType === 'application/json' ? '{"file":"x"}' : 'hello',
        });
        assert.equal(response.statusCode, 415, `${contentType}: ${response.body}`);
        assert.equal(response.json().code, 'unsupported_media_type');
        assert.match(response.json().detail, /multipart\/form-data/, `${contentType}: ${response.body}`);
      }
    });

    it('lets the caption of a message with attachments be edited away, and only then', async () => {
      const upload = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'chart.png', PNG, 'image/png'), bearer(alice)),
      });
      const withFile = (await send(alice, { body: 'caption', attachmentIds: [upload.json().id] })).json();
      const textOnly = (await send(alice, { body: 'just words' })).json();
      const edit = (id: string, body: string) =>
        chat.app.inject({
          method: 'PATCH',
          url: `/api/v1/conversations/${conversationId}/messages/${id}`,
          headers: bearer(alice),
          payload: { body },
        });
      // Sendable without text, so editable to none.
      const uncaptioned = await edit(withFile.id, '');
      assert.equal(uncaptioned.statusCode, 200, uncaptioned.body);
      assert.equal(uncaptioned.json().body, '');
      assert.equal(uncaptioned.json().attachments[0].id, upload.json().id);
      // A message that is only text still needs some, and stays as it was.
      const blank = await edit(textOnly.id, '  ');
      assert.equal(blank.statusCode, 400, blank.body);
      assert.deepEqual(
        blank.json().errors.map((error: { path: string }) => error.path),
        ['body'],
      );
      const history = (
        await get(alice, `/api/v1/conversations/${conversationId}/messages?afterSeq=${textOnly.seq - 1}`)
      ).json();
      assert.equal(history.items[0].body, 'just words');
      assert.equal(history.items[0].editedAt, undefined);
    });

    it('shortens a long file name without splitting a character in two', async () => {
      // 'a' then 150 emoji, two UTF-16 units each: a cut at 200 units would fall inside the 100th.
      const upload = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', `a${'😀'.repeat(150)}`, Buffer.from('hello')), bearer(alice)),
      });
      assert.equal(upload.statusCode, 201, upload.body);
      assert.equal(upload.json().name, `a${'😀'.repeat(99)}`);
      const download = await get(alice, upload.json().url);
      assert.equal(
        download.headers['content-disposition'],
        `attachment; filename*=UTF-8''${encodeURIComponent(`a${'😀'.repeat(99)}`)}`,
      );
    });

    it('refuses an empty file with 400 validation_failed, and stores nothing', async () => {
      const earlier = await stored();
      const empty = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'empty.txt', Buffer.alloc(0), 'text/plain'), bearer(alice)),
      });
      assert.equal(empty.statusCode, 400, empty.body);
      assert.match(String(empty.headers['content-type']), /^application\/problem\+json/);
      assert.equal(empty.json().code, 'validation_failed');
      assert.match(empty.json().detail, /empty/);
      assert.deepEqual(
        empty.json().errors.map((error: { path: string }) => error.path),
        ['file'],
      );
      assert.deepEqual(await stored(), earlier);
    });

    it('refuses an upload of more than one file with 400, storing none of them', async () => {
      const earlier = await stored();
      const part = (name: string, content: string) =>
        `--abc\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n`;
      for (const count of [2, 3]) {
        const files = Array.from({ length: count }, (_, index) =>
          part(`${index}.txt`, `file number ${index}`),
        );
        const response = await chat.app.inject({
          method: 'POST',
          url: '/api/v1/uploads',
          headers: { ...bearer(alice), 'content-type': 'multipart/form-data; boundary=abc' },
          payload: `${files.join('')}--abc--\r\n`,
        });
        assert.equal(response.statusCode, 400, `${count} files: ${response.body}`);
        assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
        assert.equal(response.json().code, 'validation_failed');
        assert.match(response.json().detail, /one file/);
        assert.deepEqual(
          response.json().errors.map((error: { path: string }) => error.path),
          ['file'],
        );
      }
      // Not the first file either, nor a temporary file of it.
      assert.deepEqual(await stored(), earlier);
    });

    it('answers a malformed multipart body with 400, never 500, and stores nothing', async () => {
      const head = `--abc\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`;
      const malformed: Array<{ contentType: string; payload: string }> = [
        // No boundary at all.
        { contentType: 'multipart/form-data', payload: 'garbage' },
        // A boundary that never appears.
        { contentType: 'multipart/form-data; boundary=abc', payload: 'garbage' },
        // Empty.
        { contentType: 'multipart/form-data; boundary=abc', payload: '' },
        // The file part is cut off: no closing boundary.
        { contentType: 'multipart/form-data; boundary=abc', payload: `${head}hello world` },
      ];
      for (const { contentType, payload } of malformed) {
        const response = await chat.app.inject({
          method: 'POST',
          url: '/api/v1/uploads',
          headers: { ...bearer(alice), 'content-type': contentType },
          payload,
        });
        assert.equal(response.statusCode, 400, `${contentType} ${JSON.stringify(payload)}: ${response.body}`);
        assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
        // Broken framing is invalid_multipart; framing that holds no part at all is a missing field.
        assert.ok(['invalid_multipart', 'validation_failed'].includes(response.json().code), response.body);
      }
      // A form whose "file" is a text field, not a file: the file is missing, nothing is too large.
      const textField = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: { ...bearer(alice), 'content-type': 'multipart/form-data; boundary=abc' },
        payload: '--abc\r\nContent-Disposition: form-data; name="file"\r\n\r\njust some text\r\n--abc--\r\n',
      });
      assert.equal(textField.statusCode, 400, textField.body);
      assert.equal(textField.json().code, 'validation_failed');
      assert.deepEqual(
        textField.json().errors.map((error: { path: string }) => error.path),
        ['file'],
      );
      // A well-formed upload still works afterwards.
      const fine = await chat.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        ...merge(multipart('file', 'a.txt', Buffer.from('hello world')), bearer(alice)),
      });
      assert.equal(fine.statusCode, 201, fine.body);
    });
  });
});

function merge(
  request: { payload: Buffer; headers: Record<string, string> },
  headers: Record<string, string>,
) {
  return { payload: request.payload, headers: { ...request.headers, ...headers } };
}
