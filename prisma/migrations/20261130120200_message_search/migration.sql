-- Full-text search of message content (searchMessages). Each message's words under the 'simple' text search
-- configuration (lower-cased words, no stemming and no stop words, so every language that separates words is
-- searched alike), kept by PostgreSQL itself as a stored generated column: a search that walks the newest
-- messages first (common words) tests each row without parsing its text again, and the GIN index finds rare
-- words directly. Deleted messages have no content and so no words.
ALTER TABLE "messages" ADD COLUMN "search_vector" tsvector
  GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, COALESCE("content", ''))) STORED;

CREATE INDEX "messages_search_vector_idx" ON "messages" USING GIN ("search_vector");

-- Search results newest first across an organization's channels: a backward walk of this index that stops at
-- the first page, when the words are common (for rare words the GIN index finds them first).
CREATE INDEX "messages_organization_id_created_seq_idx" ON "messages"("organization_id", "created_seq");
