import type { Session } from '../../auth/session.js';
import type { User } from '../../generated/prisma/client.js';
import type { AppConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import { AppError, badInput, rateLimited, unauthenticated } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import type { RateLimits } from '../../limits/rate-limits.js';
import type { Logger } from '../../logger.js';
import { recordAudit } from '../audit/audit-log.js';
import type { PasswordCheck, PasswordHasher } from './password-hasher.js';
import { passwordProblem } from './password-policy.js';
import type { AuthPayload, SessionService } from './sessions.service.js';

/** The one answer to every failed sign-in: unknown e-mail, wrong password, deactivated user or a client. */
export const SIGN_IN_REFUSED = 'Wrong e-mail or password';

export interface SignInInput {
  email: string;
  password: string;
  organizationId?: string | null;
}

export interface AccountServiceDeps {
  db: Database;
  sessions: SessionService;
  hasher: PasswordHasher;
  rateLimits: RateLimits;
  config: Pick<AppConfig, 'jwt' | 'accounts'>;
  logger: Logger;
}

/**
 * Passwords: sign-in, and changing one's own. Every failed sign-in takes the time of an argon2id verification
 * (a decoy hash stands in when there is no user or no password) and spends one unit of the account's and the
 * address's budgets of failures (SIGN_IN_FAILURES_PER_ACCOUNT / _PER_IP, in Redis across instances).
 */
export class AccountService {
  private readonly perAccount;
  private readonly perIp;

  constructor(private readonly deps: AccountServiceDeps) {
    const { accounts } = deps.config;
    this.perAccount = {
      name: 'sign-in-failures-per-account',
      limit: accounts.signInFailuresPerAccount,
      windowMs: accounts.signInWindowMs,
    };
    this.perIp = {
      name: 'sign-in-failures-per-ip',
      limit: accounts.signInFailuresPerIp,
      windowMs: accounts.signInWindowMs,
    };
  }

  async signIn(input: SignInInput, from: string): Promise<AuthPayload> {
    this.assertIssuesTokens();
    const email = input.email.trim().toLowerCase();
    const checks = [
      { policy: this.perAccount, subject: `account:${email}` },
      { policy: this.perIp, subject: `ip:${from}` },
    ];
    // The budgets (Redis) and the account (PostgreSQL) are read at once: one round trip of waiting, not two.
    const [refusal, candidates] = await Promise.all([
      this.deps.rateLimits.exhausted(checks),
      // Two rows when the e-mail is in two organizations and none was named: ambiguous, refused like the rest.
      this.deps.db.prisma.user.findMany({
        where: { email, ...(input.organizationId ? { organizationId: input.organizationId } : {}) },
        take: 2,
      }),
    ]);
    if (refusal)
      throw rateLimited(`Too many failed sign-ins; retry in ${refusal.retryAfterSeconds} s`, refusal.retryAfterSeconds);
    const user = candidates.length === 1 ? candidates[0]! : undefined;
    const check = await this.checkPassword(user, input.password);
    const matches = check === 'matches';
    if (!user || !matches || !user.isActive || user.role === 'CLIENT') {
      await this.deps.rateLimits.consume(checks);
      // Recorded for an account that exists (an unknown address belongs to no organization's log), without
      // waiting: the answer must not take longer for an address that has an account.
      if (user)
        void recordAudit(this.deps.db.prisma, {
          organizationId: user.organizationId,
          action: 'sign-in-failed',
          subjectUserId: user.id,
          details: {
            reason:
              check === 'unreadable'
                ? 'unreadable-password-hash'
                : !matches
                  ? 'wrong-password'
                  : !user.isActive
                    ? 'deactivated'
                    : 'client',
          },
          address: from,
        }).catch((error: unknown) =>
          this.deps.logger.error({ err: error, userId: user.id }, 'could not record a failed sign-in'),
        );
      throw unauthenticated(SIGN_IN_REFUSED);
    }
    return this.deps.sessions.signedIn(user, 'password', from);
  }

  /**
   * Changes the viewer's password: the current one proves it is them (a wrong one counts as a failed sign-in).
   * Every session and access token of theirs ends, on every instance; the new session comes back.
   */
  async changePassword(
    session: Session,
    input: { currentPassword: string; newPassword: string },
    from: string,
  ): Promise<AuthPayload> {
    this.assertIssuesTokens();
    const viewer = session.viewer;
    const user = await this.deps.db.prisma.user.findUniqueOrThrow({ where: { id: viewer.id } });
    const checks = [{ policy: this.perAccount, subject: `account:${user.email}` }];
    const refusal = await this.deps.rateLimits.exhausted(checks);
    if (refusal)
      throw rateLimited(`Too many failed attempts; retry in ${refusal.retryAfterSeconds} s`, refusal.retryAfterSeconds);
    if ((await this.checkPassword(user, input.currentPassword)) !== 'matches') {
      await this.deps.rateLimits.consume(checks);
      throw badInput('input.currentPassword', 'is not your current password');
    }
    const passwordHash = await this.checkedHash('input.newPassword', input.newPassword, user.email);
    await this.deps.db.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
      await recordAudit(tx, {
        organizationId: user.organizationId,
        action: 'password-changed',
        actorUserId: user.id,
        subjectUserId: user.id,
        address: from,
      });
    });
    await this.deps.sessions.revokeEverywhere(user, 'password-changed');
    return this.deps.sessions.start({ ...user, passwordHash }, from);
  }

  /** Whether single sign-on may create users for e-mail addresses the organization does not know (admin). */
  async setSingleSignOnUserCreation(session: Session, allowed: boolean, query: PrismaSelection = {}) {
    const admin = session.assertAdmin(session.organizationId);
    return this.deps.db.prisma.$transaction(async (tx) => {
      const organization = await tx.organization.update({
        ...query,
        where: { id: admin.organizationId },
        data: { ssoCreatesUsers: allowed },
      });
      await recordAudit(tx, {
        organizationId: admin.organizationId,
        action: 'single-sign-on-user-creation-changed',
        actorUserId: admin.id,
        details: { allowed },
        address: admin.clientAddress ?? null,
      });
      return organization;
    });
  }

  /** Sets a user's password (operator CLI, password reset): their sessions and tokens end everywhere. */
  async setPassword(user: { id: string; organizationId: string; email: string }, password: string): Promise<void> {
    const passwordHash = await this.checkedHash('password', password, user.email);
    await this.deps.db.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
      await recordAudit(tx, { organizationId: user.organizationId, action: 'password-set', subjectUserId: user.id });
    });
    await this.deps.sessions.revokeEverywhere(user, 'password-changed');
  }

  /** The hash of a new password that the rules accept; BAD_USER_INPUT at `field`, saying why, otherwise. */
  async checkedHash(field: string, password: string, email: string | undefined): Promise<string> {
    const problem = passwordProblem(password, { minLength: this.deps.config.accounts.passwordMinLength, email });
    if (problem) throw badInput(field, problem);
    return this.deps.hasher.hash(password);
  }

  /** The password checked against the user's hash; a hash argon2 cannot read is logged, since no password opens it. */
  private async checkPassword(
    user: Pick<User, 'id' | 'passwordHash'> | undefined,
    password: string,
  ): Promise<PasswordCheck> {
    const check = await this.deps.hasher.check(user?.passwordHash, password);
    if (check === 'unreadable')
      this.deps.logger.error(
        { userId: user?.id },
        'the stored password hash cannot be read: no password matches it until a reset sets a new one',
      );
    return check;
  }

  private assertIssuesTokens(): void {
    if (!this.deps.config.jwt.secret)
      throw new AppError('FORBIDDEN', "Sign-in is the identity provider's here (JWT_SECRET is not set)");
  }
}
