import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate, queryRows } from '@parley/store';
import { openPgliteTestDatabase, type TestDatabase } from '@parley/store/testing';
import { sql } from 'drizzle-orm';
import { CHAT_MIGRATIONS } from '../src/build-chat.ts';
import { AttachmentsRepository } from '../src/repositories/attachments-repository.ts';
import { ConversationsRepository } from '../src/repositories/conversations-repository.ts';
import { MessagesRepository } from '../src/repositories/messages-repository.ts';
import { SEND_BATCH_SQL } from '../src/repositories/send-statements.ts';
import { SyncRepository } from '../src/repositories/sync-repository.ts';

const compact = (text: string) => text.replace(/\s+/g, ' ').trim();

describe('chat repositories', () => {
  let handle: TestDatabase;
  let conversations: ConversationsRepository;
  let messages: MessagesRepository;

  before(async () => {
    handle = await openPgliteTestDatabase();
    await migrate(handle.database, { schema: 'chat', migrationsFolder: CHAT_MIGRATIONS });
    conversations = new ConversationsRepository(handle.database.db);
    messages = new MessagesRepository(handle.database.db);
  });
  after(() => handle.dispose());

  describe('pinned SQL shapes', () => {
    it('locks conversations for changes in id order, FOR UPDATE (no deadlocks with send batches)', () => {
      const { sql: text } = conversations.lockQuery(handle.database.db, ['cnv_b', 'cnv_a']).toSQL();
      assert.match(
        compact(text),
        /from "chat"\."conversations" where "chat"\."conversations"\."id" in \(\$1, \$2\) order by "chat"\."conversations"\."id" asc for update$/,
      );
    });

    it('numbers a send batch under conversation locks taken in id order, probing client keys by index', () => {
      const text = compact(SEND_BATCH_SQL);
      assert.match(
        text,
        /locked as \( select .* from chat\.conversations c where .* order by c\.id for update \)/,
      );
      assert.match(text, /row_number\(\) over conversation/);
      assert.match(text, /window conversation as \(partition by d\.conversation_id order by d\.idx\)/);
      assert.match(
        text,
        /where s\.sender_id = i\.sender_id and s\.client_message_id = i\.client_message_id limit 1/,
      );
    });

    it('counts a block in a send batch only while it is not a removed one, with no join more', () => {
      const text = compact(SEND_BATCH_SQL.replace(/--[^\n]*/g, ''));
      assert.match(
        text,
        /join chat\.blocks b on \(\(b\.blocker_id = i\.sender_id and b\.blocked_id = other\.user_id\) or \(b\.blocker_id = other\.user_id and b\.blocked_id = i\.sender_id\)\) and not b\.removed where/,
      );
      assert.equal(text.match(/chat\.blocks/g)?.length, 1);
    });

    it('lists a user’s conversations by (activity, id) keyset, newest first', () => {
      const { sql: text } = conversations
        .listQuery({ userId: 'u', before: { at: new Date(0), id: 'cnv_x' }, limit: 21 })
        .toSQL();
      assert.match(
        compact(text),
        /inner join "chat"\."conversations" on "chat"\."conversations"\."id" = "chat"\."members"\."conversation_id"/,
      );
      assert.match(
        compact(text),
        /\("chat"\."conversations"\."last_activity_at", "chat"\."conversations"\."id"\) < \(\$2::timestamptz, \$3\)/,
      );
      assert.match(
        compact(text),
        /order by "chat"\."conversations"\."last_activity_at" desc, "chat"\."conversations"\."id" desc limit \$4$/,
      );
    });

    it('reads history by seq range with the (conversation_id, seq) key', () => {
      const { sql: text } = messages.afterQuery('c', 10, 51).toSQL();
      assert.match(
        compact(text),
        /where \("chat"\."messages"\."conversation_id" = \$1 and "chat"\."messages"\."seq" > \$2\) order by "chat"\."messages"\."seq" asc limit \$3$/,
      );
    });

    it('searches with the indexed tsvector expression, limited to the user’s conversations', () => {
      const { sql: text } = messages.searchQuery('u', 'hello', undefined, 21).toSQL();
      assert.match(
        compact(text),
        /to_tsvector\('simple', "chat"\."messages"\."body"\) @@ websearch_to_tsquery\('simple', \$\d\)/,
      );
      assert.match(
        compact(text),
        /"chat"\."messages"\."conversation_id" in \(select "conversation_id" from "chat"\."members" where "chat"\."members"\."user_id" = \$1\)/,
      );
    });

    it('finds changes by revision within the user’s conversations', () => {
      const { sql: text } = messages.changesQuery('u', 5, [], 100).toSQL();
      assert.match(compact(text), /"chat"\."messages"\."revision" > \$1/);
      assert.match(compact(text), /order by "chat"\."messages"\."revision" asc limit \$3$/);
    });

    it('lets a download through only via a membership join', () => {
      const { sql: text } = new AttachmentsRepository(handle.database.db).downloadQuery('att', 'u').toSQL();
      assert.match(
        compact(text),
        /inner join "chat"\."members" on \("chat"\."members"\."conversation_id" = "chat"\."message_attachments"\."conversation_id" and "chat"\."members"\."user_id" = \$1\)/,
      );
    });
  });

  it('uses the GIN full-text index for search (PGlite plans it too)', async () => {
    const rows = await queryRows<{ indexdef: string }>(
      handle.database.db,
      sql`select indexdef from pg_indexes where schemaname = 'chat' and indexname = 'messages_body_fts_idx'`,
    );
    assert.match(rows[0]?.indexdef ?? '', /USING gin \(to_tsvector\('simple'::regconfig, body\)\)/);
  });

  it('hands out change revisions in order, one per call', async () => {
    const repository = new SyncRepository(handle.database.db);
    assert.equal(await repository.currentRevision(), 0);
    const taken = [];
    for (let i = 0; i < 3; i++)
      taken.push(await handle.database.db.transaction((tx) => repository.nextRevision(tx)));
    assert.deepEqual(taken, [1, 2, 3]);
    assert.equal(await repository.currentRevision(), 3);
  });
});
