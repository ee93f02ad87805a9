-- Published rows from before the relay deleted them (commit 2fda5fc): it used to set published_at and
-- delete them days later; since then it skips them and nothing deletes them. Their events went out then.
DELETE FROM "chat"."outbox" WHERE "published_at" IS NOT NULL;
