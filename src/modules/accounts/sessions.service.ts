import { createHash, randomBytes } from 'node:crypto';
import type { Viewer } from '../../auth/session.js';
import { signAccessToken } from '../../auth/tokens.js';
import type { AppConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import { withPipelinedTransaction } from '../../db/transaction.js';
import type { User } from '../../generated/prisma/client.js';
import { unauthenticated } from '../../lib/errors.js';
import { InFlightBatches } from '../../lib/in-flight-batches.js';
import type { EventBus } from '../../realtime/event-bus.js';
import { USER_CHANGES_TOPIC, type UserChangedEvent } from '../../realtime/topics.js';
import { type AuditAction, recordAudit } from '../audit/audit-log.js';
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

/** The presented refresh token's session, and what the rotation made of it. */
interface RotationRow {
  session_id: string;
  user_id: string;
  organization_id: string;
  rotated: boolean;
  /** Already spent while its session is still good: a copy is in use. */
  reused: boolean;
}

/** A refresh to rotate: the presented token's hash, and the hash and expiry of the token that replaces it. */
interface Rotation {
  presentedHash: string;
  nextHash: string;
  nextExpiresAt: Date;
}

/** Refreshes rotated in one statement at the most. */
const MAX_ROTATIONS = 256;

/**
 * Sessions: a short access token (the Bearer JWT, `sub` = users.id) and an opaque refresh token, stored hashed
 * and rotated on every refresh. Presenting a refresh token that was already rotated revokes the whole session:
 * either the client and a thief both hold it, and the thief must lose it.
 */
export class SessionService {
  private readonly rotations = new InFlightBatches((rotations: Rotation[]) => this.rotate(rotations), MAX_ROTATIONS);

  constructor(private readonly deps: SessionServiceDeps) {}

  /** A new session for a user who just proved who they are (password, invitation, single sign-on). */
  async start(user: User, from: string | undefined): Promise<AuthPayload> {
    const refresh = this.newRefreshToken();
    // One statement (sign-in is a hot path): the session and its first refresh token.
    await this.deps.db.pool.query({
      name: 'start-session',
      text: `WITH session AS (INSERT INTO auth_sessions (user_id, created_from) VALUES ($1, $2) RETURNING id)
             INSERT INTO refresh_tokens (session_id, token_hash, expires_at) SELECT id, $3, $4 FROM session`,
      values: [user.id, from ?? null, digest(refresh.token), refresh.expiresAt],
    });
    return this.payload(user, refresh);
  }

  /**
   * A sign-in (by password or single sign-on): its audit entry, the session and its first refresh token in one
   * statement, so one commit (one WAL flush) and one round trip, and the entry exists exactly when the session
   * does. The entry is the row recordAudit writes.
   */
  async signedIn(user: User, method: 'password' | 'single-sign-on', from: string): Promise<AuthPayload> {
    const refresh = this.newRefreshToken();
    await this.deps.db.pool.query({
      name: 'start-signed-in-session',
      text: `WITH audit AS (
               INSERT INTO audit_events (organization_id, action, actor_user_id, subject_user_id, details, address)
               VALUES ($1, $2, $3, $3, $4, $5)
             ), session AS (INSERT INTO auth_sessions (user_id, created_from) VALUES ($3, $5) RETURNING id)
             INSERT INTO refresh_tokens (session_id, token_hash, expires_at) SELECT id, $6, $7 FROM session`,
      values: [
        user.organizationId,
        'sign-in' satisfies AuditAction,
        user.id,
        JSON.stringify({ method }),
        from,
        digest(refresh.token),
        refresh.expiresAt,
      ],
    });
    return this.payload(user, refresh);
  }

  /**
   * Rotates the refresh token: the presented one is spent, a new one comes back with a new access token. The
   * statement spends it only while it is unspent (under its row lock), so of two refreshes with the same token
   * exactly one rotates it; the other, like any later use of a spent token, is a reuse and revokes the session.
   */
  async refresh(refreshToken: string, from: string | undefined): Promise<AuthPayload> {
    const next = this.newRefreshToken();
    const row = await this.rotations.add({
      presentedHash: digest(refreshToken),
      nextHash: digest(next.token),
      nextExpiresAt: next.expiresAt,
    });
    if (row?.rotated) {
      const user = await this.deps.users.get(row.user_id);
      if (user) return this.payload(user, next);
    }
    // Spent before (or by a concurrent refresh a moment ago) while the session was still open: a copy is in use.
    if (row?.reused) await this.revokeReused(row, from);
    throw unauthenticated(REFUSED_REFRESH);
  }

  /**
   * The rotations of a batch, answered in its order (undefined: no such token). The refreshes that come in together
   * rotate in one statement: one round trip and one commit for all of them, where each used to cost the server a
   * write that wakes the database, and the database a transaction. A token presented twice in one batch goes once
   * in it, and again after it, alone: that second use finds it spent, as it would have in a statement of its own.
   */
  private async rotate(rotations: Rotation[]): Promise<(RotationRow | undefined)[]> {
    const presented = new Set<string>();
    const again = rotations.map((rotation) => {
      if (presented.has(rotation.presentedHash)) return true;
      presented.add(rotation.presentedHash);
      return false;
    });
    const firstRows = await this.rotateTogether(rotations.filter((_, index) => !again[index]));
    const answers: (RotationRow | undefined)[] = [];
    for (const [index, rotation] of rotations.entries()) {
      answers.push(again[index] ? (await this.rotateTogether([rotation]))[0] : firstRows.shift());
    }
    return answers;
  }

  /** One statement for rotations of distinct tokens, answered in their order. */
  private async rotateTogether(unordered: Rotation[]): Promise<(RotationRow | undefined)[]> {
    // Every batch locks its tokens' rows in the order of their hashes, so that two instances rotating the same
    // two tokens at once (a reuse of both) wait for each other rather than deadlock.
    const rotations = unordered.toSorted((a, b) => (a.presentedHash < b.presentedHash ? -1 : 1));
    // A named statement on its plan made once per connection: planning it costs more than running it, and left to
    // choose, PostgreSQL plans it again on every execution (a plan for the batch's own length looks cheaper than
    // the general one). That one plan must use the indexes: made while refresh_tokens is small (a new database),
    // a plan that scans the table would stay in use while every refresh adds a row, and a load test saw each
    // refresh cost the database 0.2 ms, then 0.9 ms a minute later. Both settings travel with BEGIN: one round
    // trip still.
    const { rows } = await withPipelinedTransaction(
      this.deps.db.pool,
      (client) =>
        client.query<RotationRow & { ord: string }>({
          name: 'rotate-refresh-tokens',
          text: `WITH presented AS (
         SELECT i.ord, i.next_hash, i.next_expires_at, t.id, t.session_id, s.user_id, u.organization_id, t.expires_at,
                s.revoked_at, u.is_active AND u.role <> 'client' AS may_sign_in
         FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY
                AS i(presented_hash, next_hash, next_expires_at, ord)
         JOIN refresh_tokens t ON t.token_hash = i.presented_hash
         JOIN auth_sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
       ), spent AS (
         UPDATE refresh_tokens t SET used_at = now()
         FROM presented p
         WHERE t.id = p.id AND t.used_at IS NULL AND p.revoked_at IS NULL AND p.expires_at > now() AND p.may_sign_in
         RETURNING t.id
       ), issued AS (
         INSERT INTO refresh_tokens (session_id, token_hash, expires_at)
         SELECT p.session_id, p.next_hash, p.next_expires_at FROM presented p JOIN spent ON spent.id = p.id
       )
       SELECT p.ord::text AS ord, p.session_id, p.user_id, p.organization_id, spent.id IS NOT NULL AS rotated,
              spent.id IS NULL AND p.revoked_at IS NULL AND p.expires_at > now() AND p.may_sign_in AS reused
       FROM presented p LEFT JOIN spent ON spent.id = p.id`,
          values: [
            rotations.map((rotation) => rotation.presentedHash),
            rotations.map((rotation) => rotation.nextHash),
            rotations.map((rotation) => rotation.nextExpiresAt),
          ],
        }),
      { firstStatement: 'SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off' },
    );
    const byHash = new Map(rows.map((row) => [rotations[Number(row.ord) - 1]!.presentedHash, row]));
    return unordered.map((rotation) => byHash.get(rotation.presentedHash));
  }

  private async revokeReused(row: RotationRow, from: string | undefined): Promise<void> {
    await this.deps.db.prisma.$transaction(async (tx) => {
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
    });
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

  private newRefreshToken(): { token: string; expiresAt: Date } {
    return {
      token: randomBytes(32).toString('base64url'),
      expiresAt: new Date(Date.now() + this.deps.refreshTokenTtlSeconds * 1_000),
    };
  }

  private payload(user: User, refresh: { token: string; expiresAt: Date }): AuthPayload {
    const access = signAccessToken(this.deps.jwt, user.id, this.deps.accessTokenTtlSeconds);
    return {
      accessToken: access.token,
      expiresAt: access.expiresAt,
      refreshToken: refresh.token,
      refreshTokenExpiresAt: refresh.expiresAt,
      user,
    };
  }
}
