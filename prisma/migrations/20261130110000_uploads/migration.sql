-- Attachments' bytes in storage: staff uploads (used once, expiring unused) and the media customers send from
-- WhatsApp and Instagram, which a job downloads (see src/modules/media).

-- CreateEnum
CREATE TYPE "media_status" AS ENUM ('pending', 'ready', 'failed');

-- CreateTable
CREATE TABLE "uploads" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "uploaded_by" UUID,
    "message_id" UUID,
    "status" "media_status" NOT NULL DEFAULT 'pending',
    "file_name" TEXT,
    "declared_mime_type" TEXT NOT NULL,
    "declared_size" INTEGER,
    "mime_type" TEXT,
    "size" INTEGER,
    "width" INTEGER,
    "height" INTEGER,
    "sha256" TEXT,
    "storage_key" TEXT,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "used_at" TIMESTAMPTZ(6),
    "failure_reason" TEXT,
    "platform_integration_id" UUID,
    "source_media_id" TEXT,
    "source_url" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "uploads_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "uploads_message_id_key" ON "uploads"("message_id");

-- CreateIndex
CREATE INDEX "uploads_unused_idx" ON "uploads"("expires_at");

-- CreateIndex
CREATE INDEX "uploads_due_downloads_idx" ON "uploads"("status", "next_attempt_at");

-- AddForeignKey
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_uploaded_by_fkey" FOREIGN KEY ("uploaded_by") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_platform_integration_id_fkey" FOREIGN KEY ("platform_integration_id") REFERENCES "platform_integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Existing rows: the media customers sent before this migration gets a download of its own, like new media.
-- WhatsApp media ids stay valid for weeks and Instagram CDN links for a while; what Meta no longer serves ends
-- FAILED with Meta's answer, the message itself unchanged.
INSERT INTO "uploads" ("organization_id", "message_id", "file_name", "declared_mime_type", "expires_at",
                       "platform_integration_id", "source_media_id", "source_url", "next_attempt_at")
SELECT m."organization_id", m."id",
       m."metadata"->>'filename',
       coalesce(m."metadata"->>'mimeType', 'application/octet-stream'),
       now(), m."platform_integration_id",
       CASE WHEN m."message_source" = 'whatsapp' THEN m."metadata"->>'mediaId' END,
       CASE WHEN m."message_source" = 'instagram' THEN m."metadata"->>'url' END,
       now()
FROM "messages" m
WHERE m."deleted_at" IS NULL AND m."message_type" <> 'text' AND m."platform_integration_id" IS NOT NULL
  AND ((m."message_source" = 'whatsapp' AND m."metadata" ? 'mediaId')
    OR (m."message_source" = 'instagram' AND m."metadata" ? 'url'));
