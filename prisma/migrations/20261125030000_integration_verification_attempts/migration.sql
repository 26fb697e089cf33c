-- CreateTable
CREATE TABLE "integration_verification_attempts" (
    "platform_integration_id" UUID NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "window_started_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "integration_verification_attempts_pkey" PRIMARY KEY ("platform_integration_id")
);

-- AddForeignKey
ALTER TABLE "integration_verification_attempts" ADD CONSTRAINT "integration_verification_attempts_platform_integration_id_fkey" FOREIGN KEY ("platform_integration_id") REFERENCES "platform_integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
