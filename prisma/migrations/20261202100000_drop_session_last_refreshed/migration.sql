-- Nothing read it: a session's lifetime is its refresh tokens' (each rotation gives the new token a fresh expiry),
-- and writing it cost every refresh a second row update.
ALTER TABLE "auth_sessions" DROP COLUMN "last_refreshed_at";
