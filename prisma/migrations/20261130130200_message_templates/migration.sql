-- WhatsApp message templates, mirrored from the Graph API and kept current by template status webhooks.
-- CreateTable
CREATE TABLE "message_templates" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "platform_integration_id" UUID NOT NULL,
    "external_id" TEXT,
    "name" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "category" TEXT,
    "status" TEXT NOT NULL,
    "components" JSONB NOT NULL DEFAULT '[]',
    "status_reason" TEXT,
    "synced_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "message_templates_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "message_templates_platform_integration_id_external_id_idx" ON "message_templates"("platform_integration_id", "external_id");

-- CreateIndex
CREATE UNIQUE INDEX "message_templates_platform_integration_id_name_language_key" ON "message_templates"("platform_integration_id", "name", "language");

-- AddForeignKey
ALTER TABLE "message_templates" ADD CONSTRAINT "message_templates_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "message_templates" ADD CONSTRAINT "message_templates_platform_integration_id_fkey" FOREIGN KEY ("platform_integration_id") REFERENCES "platform_integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

