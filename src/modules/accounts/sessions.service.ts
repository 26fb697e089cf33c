import { createHash, randomBytes } from 'node:crypto';
import type { Viewer } from '../../auth/session.js';
import { signAccessToken } from '../../auth/tokens.js';
import type { AppConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import type { User } from '../../generated/prisma/client.js';
import { unauthenticated } from '../../lib/errors.js';
import type { EventBus } from '../../realtime/event-bus.js';
import { USER_CHANGES_TOPIC, type UserChangedEvent } from '../../realtime/topics.js';
import { recordAudit } from '../audit/audit-log.js';
import type { UserDirectory } from '../users/user-directory.js';
import { type RevocationReason, revokeSessionsOf } from './session-revocation.js';

/** What a client receives when it signs in or refreshes. */
export interface AuthPayload {
  accessToken: string;
  /** When the access token expires. */
  expiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  user: User;
}

export interface SessionServiceDeps {
  db: Database;
  bus: EventBus;
  users: UserDirectory;
  jwt: AppConfig['jwt'];
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

const REFUSED_REFRESH = 'The refresh token is invalid, expired or revoked: sign in again';

/** The refresh token's only stored form: it is 256 random bits, so a plain SHA-256 cannot be reversed. */
const digest = (token: string) => createHash('sha256').update(token).digest('hex');

interface RefreshRow {
  id: string;
  session_id: string;
  user_id: string;
  organization_id: string;
  used_at: Date | null;
  expires_at: Date;
  revoked_at: Date | null;
}

/**
 * Sessions: a short access token (the Bearer JWT, `sub` = users.id) and an opaque refresh token, stored hashed
 * and rotated on every refresh. Presenting a refresh token that was already rotated revokes the whole session:
 * either the client and a thief both hold it, and the thief must lose it.
 */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /** A new session for a user who just proved who they are (password, invitation, single sign-on). */
  async start(user: User, from: string | undefined): Promise<AuthPayload> {
    const session = await this.deps.db.prisma.authSession.create({
      data: { userId: user.id, createdFrom: from ?? null },
      select: { id: true },
    });
    const refresh = await this.issueRefreshToken(this.deps.db.prisma, session.id);
    return this.payload(user, refresh);
  }

  /** Rotates the refresh token: the presented one is spent, a new one comes back with a new access token. */
  async refresh(refreshToken: string, from: string | undefined): Promise<AuthPayload> {
    const outcome = await this.deps.db.prisma.$transaction(async (tx) => {
      // Locked, so that of two refreshes with the same token exactly one rotates it and the other is a reuse.
      const [row] = await tx.$queryRaw<RefreshRow[]>`
        SELECT t.id, t.session_id, s.user_id, u.organization_id, t.used_at, t.expires_at, s.revoked_at
        FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
        WHERE t.token_hash = ${digest(refreshToken)}
        FOR UPDATE OF t`;
      if (!row || row.revoked_at) return { refused: true as const };
      if (row.used_at) {
        await tx.authSession.update({
          where: { id: row.session_id },
          data: { revokedAt: new Date(), revokedReason: 'refresh-token-reused' satisfies RevocationReason },
        });
        await recordAudit(tx, {
          organizationId: row.organization_id,
          action: 'refresh-token-reused',
          subjectUserId: row.user_id,
          details: { sessionId: row.session_id },
          address: from ?? null,
        });
        return { refused: true as const };
      }
      if (row.expires_at.getTime() <= Date.now()) return { refused: true as const };
      const user = await tx.user.findUnique({ where: { id: row.user_id } });
      if (!user?.isActive || user.role === 'CLIENT') return { refused: true as const };
      const now = new Date();
      await tx.refreshToken.update({ where: { id: row.id }, data: { usedAt: now } });
      await tx.authSession.update({ where: { id: row.session_id }, data: { lastRefreshedAt: now } });
      return { refused: false as const, user, refresh: await this.issueRefreshToken(tx, row.session_id) };
    });
    if (outcome.refused) throw unauthenticated(REFUSED_REFRESH);
    return this.payload(outcome.user, outcome.refresh);
  }

  /** Ends the session of this refresh token; an unknown token is already as good as signed out. */
  async signOut(refreshToken: string, from: string | undefined): Promise<void> {
    await this.deps.db.prisma.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<{ id: string; user_id: string; organization_id: string }[]>`
        UPDATE auth_sessions s SET revoked_at = now(), revoked_reason = ${'signed-out' satisfies RevocationReason}
        FROM refresh_tokens t, users u
        WHERE t.token_hash = ${digest(refreshToken)} AND s.id = t.session_id AND u.id = s.user_id
          AND s.revoked_at IS NULL
        RETURNING s.id, s.user_id, u.organization_id`;
      if (row)
        await recordAudit(tx, {
          organizationId: row.organization_id,
          action: 'sign-out',
          actorUserId: row.user_id,
          subjectUserId: row.user_id,
          details: { sessionId: row.id },
          address: from ?? null,
        });
    });
  }

  /** The viewer's "sign out everywhere": every session and token of theirs ends. */
  async signOutEverywhere(viewer: Viewer): Promise<void> {
    await recordAudit(this.deps.db.prisma, {
      organizationId: viewer.organizationId,
      action: 'sign-out-everywhere',
      actorUserId: viewer.id,
      subjectUserId: viewer.id,
      address: viewer.clientAddress ?? null,
    });
    await this.revokeEverywhere(viewer, 'signed-out-everywhere');
  }

  /**
   * Ends every session of the user and every access token issued so far (`sessions_revoked_at`); every instance is
   * told before this returns, so open sockets and subscriptions opened with those tokens end within moments.
   */
  async revokeEverywhere(user: { id: string; organizationId: string }, reason: RevocationReason): Promise<void> {
    await this.deps.db.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: user.id }, data: { sessionsRevokedAt: new Date() } });
      await revokeSessionsOf(tx, user.id, reason);
    });
    await this.announce(user);
  }

  /** Tells every instance the user changed: caches forget them, sockets and subscriptions look again. */
  async announce(user: { id: string; organizationId: string }): Promise<void> {
    this.deps.users.forget(user.id);
    const event: UserChangedEvent = { type: 'user.changed', organizationId: user.organizationId, userId: user.id };
    await this.deps.bus.publish(USER_CHANGES_TOPIC, event);
  }

  private async issueRefreshToken(
    client: Pick<Database['prisma'], 'refreshToken'>,
    sessionId: string,
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + this.deps.refreshTokenTtlSeconds * 1_000);
    await client.refreshToken.create({ data: { sessionId, tokenHash: digest(token), expiresAt } });
    return { token, expiresAt };
  }

  private async payload(user: User, refresh: { token: string; expiresAt: Date }): Promise<AuthPayload> {
    const access = await signAccessToken(this.deps.jwt, user.id, this.deps.accessTokenTtlSeconds);
    return {
      accessToken: access.token,
      expiresAt: access.expiresAt,
      refreshToken: refresh.token,
      refreshTokenExpiresAt: refresh.expiresAt,
      user,
    };
  }
}
