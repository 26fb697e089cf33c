-- When a user was last connected, for `User.lastSeenAt` once they are offline.
ALTER TABLE "users" ADD COLUMN "last_seen_at" TIMESTAMPTZ(6);
