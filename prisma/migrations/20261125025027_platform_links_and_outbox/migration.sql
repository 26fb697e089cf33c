-- AlterTable
ALTER TABLE "client_platform_links" ADD COLUMN     "last_inbound_at" TIMESTAMPTZ(6);

-- CreateTable
CREATE TABLE "link_verification_attempts" (
    "platform_integration_id" UUID NOT NULL,
    "sender" TEXT NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "window_started_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "link_verification_attempts_pkey" PRIMARY KEY ("platform_integration_id","sender")
);

-- CreateIndex
CREATE UNIQUE INDEX "outbound_messages_platform_integration_id_external_message__key" ON "outbound_messages"("platform_integration_id", "external_message_id");

-- AddForeignKey
ALTER TABLE "link_verification_attempts" ADD CONSTRAINT "link_verification_attempts_platform_integration_id_fkey" FOREIGN KEY ("platform_integration_id") REFERENCES "platform_integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

