-- Every change that is not a message's own (reactions, statuses, channel changes) takes its place in the
-- organization's sequence beside message changes, so that one cursor resumes every kind of event.
CREATE TYPE "organization_event_type" AS ENUM ('reaction', 'status', 'channel');

CREATE TABLE "organization_events" (
    "organization_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "type" "organization_event_type" NOT NULL,
    "channel_id" UUID,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "organization_events_pkey" PRIMARY KEY ("organization_id","seq")
);

CREATE INDEX "organization_events_channel_id_seq_idx" ON "organization_events"("channel_id", "seq");
CREATE INDEX "organization_events_created_at_idx" ON "organization_events"("created_at");

ALTER TABLE "organization_events" ADD CONSTRAINT "organization_events_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Events numbered up to this were pruned (EVENT_RETENTION_DAYS): a cursor before it can no longer be resumed.
ALTER TABLE "message_sequences" ADD COLUMN "retained_from_seq" BIGINT NOT NULL DEFAULT 0;

-- History pages by sequence: a cursor is a point in the organization's sequence.
CREATE INDEX "messages_channel_id_created_seq_idx" ON "messages"("channel_id", "created_seq");
CREATE INDEX "messages_thread_id_created_seq_idx" ON "messages"("thread_id", "created_seq");
