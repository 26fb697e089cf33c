-- The word index by organization: a search asks the index for the older matches of a word in the viewer's
-- organization only, so a word common in another organization costs nothing here. btree_gin gives GIN the
-- uuid column (it ships with PostgreSQL and is trusted from PostgreSQL 13, so the database's owner may create it).
CREATE EXTENSION IF NOT EXISTS "btree_gin";

DROP INDEX "messages_search_vector_idx";

CREATE INDEX "messages_organization_id_search_vector_idx" ON "messages" USING GIN ("organization_id", "search_vector");
