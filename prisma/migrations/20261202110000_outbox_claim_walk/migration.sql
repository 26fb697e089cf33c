-- The claim walks due rows in the order they fell due and stops at its limit, testing each for being its recipient's
-- oldest pending row. Before, it sorted every due row first, and the test read all of a recipient's pending rows with
-- their messages: with 100,000 queued (after a Meta outage, say) one claim took ~110 ms of the database's time.
--
-- The message's place in the organization's order, copied onto its delivery, so that a recipient's oldest pending
-- row is the first entry of one index range.
ALTER TABLE "outbound_messages" ADD COLUMN "message_seq" BIGINT;
UPDATE "outbound_messages" o SET "message_seq" = m."created_seq" FROM "messages" m WHERE m."id" = o."message_id";
ALTER TABLE "outbound_messages" ALTER COLUMN "message_seq" SET NOT NULL;

DROP INDEX "outbound_messages_pending_link_idx";
CREATE INDEX "outbound_messages_pending_link_idx" ON "outbound_messages"("client_platform_link_id", "message_seq") WHERE "status" = 'pending';

-- Pending rows in the order they fall due: the claim reads them in this order instead of sorting them. Sent and
-- failed rows, the many, are not in it.
DROP INDEX "outbound_messages_status_next_attempt_at_idx";
CREATE INDEX "outbound_messages_due_idx" ON "outbound_messages"("next_attempt_at", "id") WHERE "status" = 'pending';
