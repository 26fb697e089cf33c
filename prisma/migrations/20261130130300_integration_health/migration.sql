-- PlatformIntegration.health from Meta's answers to sends; existing integrations start OK.
CREATE TYPE "integration_health" AS ENUM ('ok', 'token_invalid', 'failing');

-- AlterTable
ALTER TABLE "platform_integrations" ADD COLUMN     "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "health_checked_at" TIMESTAMPTZ(6),
ADD COLUMN     "health_error" TEXT,
ADD COLUMN     "health_status" "integration_health" NOT NULL DEFAULT 'ok';
