-- Who each message mentions (`@` and a person's e-mail address or display name), resolved by the server when
-- the message is written or edited: behind `Message.mentions` and `Channel.mentionCount`. The channel and the
-- message's channel number are copied so that a member's unread mentions are one index range.
CREATE TABLE "message_mentions" (
    "message_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "channel_id" UUID NOT NULL,
    "channel_seq" BIGINT NOT NULL,

    CONSTRAINT "message_mentions_pkey" PRIMARY KEY ("message_id","user_id")
);

CREATE INDEX "message_mentions_user_id_channel_id_channel_seq_idx" ON "message_mentions"("user_id", "channel_id", "channel_seq");

ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
