-- Each message's number within its channel (1, 2, 3, ... in creation order), and each member's read position
-- as such a number: `Channel.unreadCount` is then a subtraction (the channel's last number minus the member's)
-- less the messages after the position that do not count (the member's own and deleted ones), instead of a
-- count over every unread row.
ALTER TABLE "messages" ADD COLUMN "channel_seq" BIGINT;

-- Existing messages are numbered in the order they were created.
UPDATE "messages" m SET "channel_seq" = numbered.n
FROM (SELECT "id", row_number() OVER (PARTITION BY "channel_id" ORDER BY "created_seq") AS n FROM "messages") numbered
WHERE numbered."id" = m."id";

ALTER TABLE "messages" ALTER COLUMN "channel_seq" SET NOT NULL;

CREATE INDEX "messages_channel_id_channel_seq_idx" ON "messages"("channel_id", "channel_seq");
CREATE INDEX "messages_channel_id_user_id_channel_seq_idx" ON "messages"("channel_id", "user_id", "channel_seq");
-- Deleted messages after a read position, counted apart (few, and only these rows are read).
CREATE INDEX "messages_deleted_channel_seq_idx" ON "messages"("channel_id", "channel_seq") WHERE "deleted_at" IS NOT NULL;

-- Null: nothing read yet (the position is then where the member joined).
ALTER TABLE "channel_members" ADD COLUMN "last_read_seq" BIGINT;

UPDATE "channel_members" cm SET "last_read_seq" = m."channel_seq"
FROM "messages" m WHERE m."id" = cm."last_read_message_id";
