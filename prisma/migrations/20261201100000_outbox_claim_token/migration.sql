-- Each claim of an outbox row takes the next token; an attempt's outcome is written only while the row still has
-- its claim's token. Unlike attempts (a try that Meta never saw is given back), it never goes down, so a claim
-- whose lease expired can never match the row again.
ALTER TABLE "outbound_messages" ADD COLUMN     "claim_token" INTEGER NOT NULL DEFAULT 0;
