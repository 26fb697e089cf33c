-- A client's unread count leaves out the internal notes after their read position: few rows, found through an
-- index of their own, so the count still costs the same however many messages are unread.
CREATE INDEX "messages_internal_channel_seq_idx" ON "messages"("channel_id", "channel_seq") WHERE "internal";
