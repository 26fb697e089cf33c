-- Whether single sign-on may create a staff user for a verified e-mail address the organization does not know
-- (just-in-time creation); an admin allows it, and it is off for every existing organization.
ALTER TABLE "organizations" ADD COLUMN "sso_creates_users" BOOLEAN NOT NULL DEFAULT false;
