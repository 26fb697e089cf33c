-- A channel has at most one active client. Channels that already have several keep the most recently
-- assigned one; the others' assignments are deactivated (their rows, and who assigned them, stay).
UPDATE "client_channel_assignments" AS a
SET "is_active" = false
WHERE a."is_active"
  AND EXISTS (
    SELECT 1 FROM "client_channel_assignments" AS newer
    WHERE newer."channel_id" = a."channel_id" AND newer."is_active"
      AND (newer."assigned_at", newer."id") > (a."assigned_at", a."id")
  );

CREATE UNIQUE INDEX "client_channel_assignments_one_active_client"
  ON "client_channel_assignments" ("channel_id") WHERE "is_active";
