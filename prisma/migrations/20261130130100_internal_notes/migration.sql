-- Internal notes: staff-only messages, never shown to the client nor sent to a platform. Existing messages are
-- not notes (a constant default: no table rewrite).
ALTER TABLE "messages" ADD COLUMN     "internal" BOOLEAN NOT NULL DEFAULT false;
