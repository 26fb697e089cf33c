-- Single-use links that let someone set a password: an invitation (inviteUser) or a password reset. Stored as
-- the SHA-256 of the token only; `used_at` makes them single use, `expires_at` makes them expire.
CREATE TABLE "account_links" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "purpose" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "used_at" TIMESTAMPTZ(6),
    "created_by" UUID,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "account_links_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "account_links_purpose_check" CHECK ("purpose" IN ('invitation', 'password-reset'))
);
CREATE UNIQUE INDEX "account_links_token_hash_key" ON "account_links"("token_hash");
CREATE INDEX "account_links_user_id_purpose_idx" ON "account_links"("user_id", "purpose");
ALTER TABLE "account_links" ADD CONSTRAINT "account_links_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "account_links" ADD CONSTRAINT "account_links_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
