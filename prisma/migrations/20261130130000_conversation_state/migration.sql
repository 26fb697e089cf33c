-- Client conversations in the support inbox: status and assignee on the channel (existing channels start OPEN,
-- unassigned), and every change of either kept with who made it (the conversation's timeline).
-- CreateEnum
CREATE TYPE "conversation_status" AS ENUM ('open', 'pending', 'resolved');

-- CreateEnum
CREATE TYPE "conversation_change_kind" AS ENUM ('status', 'assignee');

-- AlterTable
ALTER TABLE "channels" ADD COLUMN     "assignee_id" UUID,
ADD COLUMN     "conversation_status" "conversation_status" NOT NULL DEFAULT 'open';

-- CreateTable
CREATE TABLE "conversation_changes" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "organization_id" UUID NOT NULL,
    "channel_id" UUID NOT NULL,
    "kind" "conversation_change_kind" NOT NULL,
    "actor_id" UUID,
    "status" "conversation_status" NOT NULL,
    "assignee_id" UUID,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "conversation_changes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "conversation_changes_channel_id_created_at_idx" ON "conversation_changes"("channel_id", "created_at");

-- CreateIndex
CREATE INDEX "channels_assignee_id_idx" ON "channels"("assignee_id");

-- AddForeignKey
ALTER TABLE "channels" ADD CONSTRAINT "channels_assignee_id_fkey" FOREIGN KEY ("assignee_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversation_changes" ADD CONSTRAINT "conversation_changes_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversation_changes" ADD CONSTRAINT "conversation_changes_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "channels"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversation_changes" ADD CONSTRAINT "conversation_changes_actor_id_fkey" FOREIGN KEY ("actor_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversation_changes" ADD CONSTRAINT "conversation_changes_assignee_id_fkey" FOREIGN KEY ("assignee_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

