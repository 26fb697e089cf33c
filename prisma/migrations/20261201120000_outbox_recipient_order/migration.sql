-- A recipient's replies are sent in the order staff wrote them: the claim looks for an earlier pending row of the
-- same client platform link before taking one. Pending rows are few next to sent ones, so the index holds only them.
CREATE INDEX "outbound_messages_pending_link_idx" ON "outbound_messages"("client_platform_link_id") WHERE "status" = 'pending';
