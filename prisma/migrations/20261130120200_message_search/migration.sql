-- Full-text search of message content (searchMessages): a GIN index over the words of each message under the
-- 'simple' text search configuration (lower-cased words, no stemming and no stop words, so it serves every
-- language that separates words, alike). The search module queries exactly this expression; deleted messages
-- have no content and so no words.
CREATE INDEX "messages_content_search_idx" ON "messages"
  USING GIN (to_tsvector('simple'::regconfig, COALESCE("content", '')));

-- Search results newest first across an organization's channels: a backward walk of this index that stops at
-- the first page, when the words are common (for rare words the GIN index finds them first).
CREATE INDEX "messages_organization_id_created_seq_idx" ON "messages"("organization_id", "created_seq");
