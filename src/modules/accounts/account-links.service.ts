import { createHash, randomBytes } from 'node:crypto';
import type { Session } from '../../auth/session.js';
import type { AppConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import type { Prisma, User } from '../../generated/prisma/client.js';
import type { UserRole } from '../../generated/prisma/enums.js';
import { badInput, conflict, isUniqueViolation, rateLimited } from '../../lib/errors.js';
import type { RateLimits } from '../../limits/rate-limits.js';
import type { Logger } from '../../logger.js';
import { recordAudit } from '../audit/audit-log.js';
import type { AccountService } from './accounts.service.js';
import type { Mailer } from './mailer.js';
import type { AuthPayload, SessionService } from './sessions.service.js';

type Purpose = 'invitation' | 'password-reset';

export interface InviteInput {
  email: string;
  displayName: string;
  role: UserRole;
}

/** What inviteUser answers. `acceptUrl` is null when the invitation went out by e-mail. */
export interface Invitation {
  id: string;
  email: string;
  role: UserRole;
  expiresAt: Date;
  acceptUrl: string | null;
  emailed: boolean;
}

export interface AccountLinkServiceDeps {
  db: Database;
  sessions: SessionService;
  accounts: AccountService;
  rateLimits: RateLimits;
  mailer: Mailer | undefined;
  logger: Logger;
  config: Pick<AppConfig, 'accounts'>;
}

/** Password-reset requests per e-mail address per sign-in window: enough for a lost mail, not a mail bomb. */
const RESETS_PER_ACCOUNT = 3;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

const REFUSED: Record<Purpose, string> = {
  invitation: 'this invitation link is invalid, has expired or was used already; ask an admin for a new one',
  'password-reset': 'this password-reset link is invalid, has expired or was used already; request a new one',
};

/**
 * Single-use links that set a password: invitations (an admin invites; the link signs the new user in) and
 * password resets. Tokens are 256 random bits, stored as SHA-256 only; a new link of the same kind replaces the
 * user's previous one. With SMTP_URL the link is e-mailed; without it the admin hands over the invitation link.
 */
export class AccountLinkService {
  private readonly resetsPerAccount;
  private readonly resetsPerIp;

  constructor(private readonly deps: AccountLinkServiceDeps) {
    const { accounts } = deps.config;
    this.resetsPerAccount = {
      name: 'password-resets-per-account',
      limit: RESETS_PER_ACCOUNT,
      windowMs: accounts.signInWindowMs,
    };
    this.resetsPerIp = {
      name: 'password-resets-per-ip',
      limit: accounts.signInFailuresPerIp,
      windowMs: accounts.signInWindowMs,
    };
  }

  async invite(session: Session, input: InviteInput): Promise<Invitation> {
    const admin = session.assertAdmin(session.organizationId);
    return this.inviteInto(admin.organizationId, { id: admin.id, address: admin.clientAddress ?? null }, input);
  }

  /** An invitation into the organization, by an admin or (actor null) the operator CLI. */
  async inviteInto(
    organizationId: string,
    actor: { id: string; address: string | null } | null,
    input: InviteInput,
  ): Promise<Invitation> {
    const admin = { organizationId, id: actor?.id ?? null, clientAddress: actor?.address ?? null };
    if (input.role === 'CLIENT')
      throw badInput('input.role', 'clients do not sign in (they write from WhatsApp or Instagram); use createUser');
    const { prisma } = this.deps.db;
    const emailed = this.deps.mailer !== undefined;
    const { user, link, token, organizationName } = await prisma
      .$transaction(async (tx) => {
        let user = await tx.user.findFirst({ where: { organizationId: admin.organizationId, email: input.email } });
        if (user?.passwordHash) throw conflict(`${input.email} has an account already`);
        if (user && !user.isActive) throw conflict(`${input.email} is deactivated; reactivate them with updateUser`);
        if (user && user.role !== input.role)
          throw conflict(`${input.email} was invited as ${user.role}; change the role with updateUser`);
        user ??= await tx.user.create({
          data: {
            organizationId: admin.organizationId,
            email: input.email,
            displayName: input.displayName,
            role: input.role,
          },
        });
        const { link, token } = await this.issue(tx, user.id, 'invitation', admin.id);
        await recordAudit(tx, {
          organizationId: admin.organizationId,
          action: 'user-invited',
          actorUserId: admin.id,
          subjectUserId: user.id,
          details: { role: user.role, emailed },
          address: admin.clientAddress ?? null,
        });
        const organization = await tx.organization.findUniqueOrThrow({ where: { id: admin.organizationId } });
        return { user, link, token, organizationName: organization.name };
      })
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw conflict(`${input.email} was invited at the same moment`);
        throw error;
      });
    const acceptUrl = this.url('accept-invitation', token);
    const invitation = { id: link.id, email: user.email, role: user.role, expiresAt: link.expiresAt };
    if (!this.deps.mailer) return { ...invitation, acceptUrl, emailed: false };
    try {
      await this.deps.mailer.send({
        to: user.email,
        subject: `Your invitation to ${organizationName}`,
        text:
          `${user.displayName}, you are invited to ${organizationName}.\n\n` +
          `Choose your password here (the link works once, until ${link.expiresAt.toUTCString()}):\n${acceptUrl}\n`,
      });
      return { ...invitation, acceptUrl: null, emailed: true };
    } catch (error) {
      // The admin can still hand the link over.
      this.deps.logger.error({ err: error, userId: user.id }, 'could not e-mail an invitation');
      return { ...invitation, acceptUrl, emailed: false };
    }
  }

  /** Sets the invited user's password (and display name) and signs them in. */
  async acceptInvitation(
    input: { token: string; password: string; displayName?: string | null },
    from: string,
  ): Promise<AuthPayload> {
    const user = await this.redeem('invitation', input.token, 'input.password', input.password, {
      displayName: input.displayName ?? undefined,
      action: 'invitation-accepted',
      from,
    });
    return this.deps.sessions.start(user, from);
  }

  /**
   * E-mails a password-reset link to the account, when there is one that may sign in. The answer is the same
   * whether or not there is (and the mail goes out after it), so it tells nobody which addresses have accounts.
   */
  async requestPasswordReset(email: string, organizationId: string | null | undefined, from: string): Promise<void> {
    const address = email.trim().toLowerCase();
    const refusal = await this.deps.rateLimits.consume([
      { policy: this.resetsPerAccount, subject: `account:${address}` },
      { policy: this.resetsPerIp, subject: `ip:${from}` },
    ]);
    if (refusal)
      throw rateLimited(`Too many password resets; retry in ${refusal.retryAfterSeconds} s`, refusal.retryAfterSeconds);
    const { mailer } = this.deps;
    if (!mailer) {
      this.deps.logger.warn('password reset requested, but SMTP_URL is not set: no mail can carry the link');
      return;
    }
    const candidates = await this.deps.db.prisma.user.findMany({
      where: { email: address, ...(organizationId ? { organizationId } : {}) },
      take: 2,
    });
    const user = candidates.length === 1 ? candidates[0]! : undefined;
    if (!user?.isActive || user.role === 'CLIENT') return;
    const { link, token } = await this.deps.db.prisma.$transaction(async (tx) => {
      const issued = await this.issue(tx, user.id, 'password-reset', null);
      await recordAudit(tx, {
        organizationId: user.organizationId,
        action: 'password-reset-requested',
        subjectUserId: user.id,
        address: from,
      });
      return issued;
    });
    const url = this.url('reset-password', token);
    void mailer
      .send({
        to: user.email,
        subject: 'Reset your password',
        text:
          `Someone (hopefully you) asked to reset the password of ${user.email}.\n\n` +
          `Choose a new one here (the link works once, until ${link.expiresAt.toUTCString()}):\n${url}\n\n` +
          'If it was not you, ignore this mail: your password stays as it is.\n',
      })
      .catch((error: unknown) =>
        this.deps.logger.error({ err: error, userId: user.id }, 'could not e-mail a password reset'),
      );
  }

  /** Sets a new password from a reset link: every session of the user ends, and this one begins. */
  async resetPassword(input: { token: string; newPassword: string }, from: string): Promise<AuthPayload> {
    const user = await this.redeem('password-reset', input.token, 'input.newPassword', input.newPassword, {
      action: 'password-reset',
      from,
    });
    await this.deps.sessions.revokeEverywhere(user, 'password-changed');
    return this.deps.sessions.start(user, from);
  }

  /**
   * Spends a link on a new password. The password is checked before the link is spent, so a refused password
   * does not cost the link; the link is then spent under its row lock, so it sets a password exactly once.
   */
  private async redeem(
    purpose: Purpose,
    token: string,
    passwordField: string,
    password: string,
    effect: { displayName?: string; action: 'invitation-accepted' | 'password-reset'; from: string },
  ): Promise<User> {
    const { prisma } = this.deps.db;
    const tokenHash = digest(token);
    const usable = (link: { purpose: string; usedAt: Date | null; expiresAt: Date } | null) =>
      link !== null && link.purpose === purpose && link.usedAt === null && link.expiresAt.getTime() > Date.now();
    const found = await prisma.accountLink.findUnique({ where: { tokenHash }, include: { user: true } });
    if (!found || !usable(found) || !found.user.isActive) throw badInput('input.token', REFUSED[purpose]);
    const passwordHash = await this.deps.accounts.checkedHash(passwordField, password, found.user.email);
    return prisma.$transaction(async (tx) => {
      const [locked] = await tx.$queryRaw<{ used_at: Date | null }[]>`
        SELECT used_at FROM account_links WHERE id = ${found.id}::uuid FOR UPDATE`;
      if (!locked || locked.used_at !== null) throw badInput('input.token', REFUSED[purpose]);
      await tx.accountLink.update({ where: { id: found.id }, data: { usedAt: new Date() } });
      const user = await tx.user.update({
        where: { id: found.userId },
        data: { passwordHash, ...(effect.displayName ? { displayName: effect.displayName } : {}) },
      });
      await recordAudit(tx, {
        organizationId: user.organizationId,
        action: effect.action,
        actorUserId: user.id,
        subjectUserId: user.id,
        address: effect.from,
      });
      return user;
    });
  }

  /** A new link of this kind for the user, replacing any earlier one not yet used. */
  private async issue(tx: Prisma.TransactionClient, userId: string, purpose: Purpose, createdBy: string | null) {
    await tx.accountLink.deleteMany({ where: { userId, purpose, usedAt: null } });
    const token = randomBytes(32).toString('base64url');
    const ttlSeconds =
      purpose === 'invitation'
        ? this.deps.config.accounts.invitationTtlSeconds
        : this.deps.config.accounts.passwordResetTtlSeconds;
    const link = await tx.accountLink.create({
      data: {
        userId,
        purpose,
        tokenHash: digest(token),
        expiresAt: new Date(Date.now() + ttlSeconds * 1_000),
        createdBy,
      },
    });
    return { link, token };
  }

  private url(path: 'accept-invitation' | 'reset-password', token: string): string {
    return `${this.deps.config.accounts.linksUrl}/${path}?token=${token}`;
  }
}
