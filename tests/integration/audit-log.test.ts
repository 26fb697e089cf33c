import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { givePassword } from '../support/accounts.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createIntegration } from '../support/platform.js';
import { addUser, seedOrganization } from '../support/seed.js';

// The audit log (issue 11): sign-ins and failures, sign-outs, role changes, deactivations, integration changes
// and secret rotations, listed to admins newest first, with who, when and from where, and never a secret.

const AuditLog = graphql(`
  query AuditLogPage($first: Int, $after: String) {
    auditLog(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          action
          actor {
            id
          }
          subjectUser {
            id
          }
          details
          address
          createdAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const SignIn = graphql(`
  mutation AuditSignIn($input: SignInInput!) {
    signIn(input: $input) {
      accessToken
      refreshToken
    }
  }
`);

const SignOut = graphql(`
  mutation AuditSignOut($token: String!) {
    signOut(refreshToken: $token)
  }
`);

const ChangeUser = graphql(`
  mutation AuditChangeUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      id
    }
  }
`);

const UpdateIntegration = graphql(`
  mutation AuditUpdateIntegration($input: UpdatePlatformIntegrationInput!) {
    updatePlatformIntegration(input: $input) {
      id
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Staff'] } });

describe('auditLog', () => {
  it('records who did what, when and from where, newest first, and never a secret or a token', async () => {
    const url = server().graphqlUrl;
    const admin = org().admin;
    const member = await addUser(server(), org(), 'Audited', 'USER');
    const password = await givePassword(server(), member, org().id);
    expect(
      errorCodes(await gql(url, SignIn, { input: { email: member.email, password: 'wrong wrong wrong' } })),
    ).toEqual(['UNAUTHENTICATED']);
    const session = dataOf(await gql(url, SignIn, { input: { email: member.email, password } })).signIn;
    dataOf(await gql(url, SignOut, { token: session.refreshToken }));
    dataOf(await gql(url, ChangeUser, { input: { id: member.id, role: 'ADMIN' } }, { token: admin.token }));
    dataOf(await gql(url, ChangeUser, { input: { id: member.id, isActive: false } }, { token: admin.token }));
    const integration = await createIntegration(server(), org(), 'WHATSAPP');
    const newSecret = `rotated-${randomBytes(12).toString('hex')}`;
    dataOf(
      await gql(
        url,
        UpdateIntegration,
        { input: { id: integration.id, appSecret: newSecret, integrationName: 'renamed' } },
        { token: admin.token },
      ),
    );

    const log = dataOf(await gql(url, AuditLog, { first: 100 }, { token: admin.token })).auditLog;
    const entries = log.edges.map((edge) => edge.node);
    const about = entries.filter(
      (entry) =>
        entry.subjectUser?.id === member.id ||
        (entry.details as { integrationId?: string }).integrationId === integration.id,
    );
    expect(about.map((entry) => entry.action)).toEqual([
      'integration-secrets-replaced',
      'integration-updated',
      'integration-created',
      'user-deactivated',
      'role-changed',
      'sign-out',
      'sign-in',
      'sign-in-failed',
      'password-set',
      'user-created',
    ]);
    const byAction = Object.fromEntries(about.map((entry) => [entry.action, entry]));
    expect(byAction['sign-in-failed']).toMatchObject({ actor: null, details: { reason: 'wrong-password' } });
    expect(byAction['sign-in']).toMatchObject({ actor: { id: member.id }, details: { method: 'password' } });
    expect(byAction['role-changed']).toMatchObject({ actor: { id: admin.id }, details: { from: 'USER', to: 'ADMIN' } });
    expect(byAction['integration-secrets-replaced']!.details).toEqual({
      integrationId: integration.id,
      secrets: ['appSecret'],
    });
    expect(byAction['integration-updated']!.details).toEqual({
      integrationId: integration.id,
      changed: ['integrationName'],
    });
    for (const action of ['sign-in', 'sign-in-failed', 'sign-out', 'role-changed', 'integration-secrets-replaced'])
      expect(byAction[action]!.address).toMatch(/127\.0\.0\.1/);
    // Newest first, and nothing a thief could use.
    const times = entries.map((entry) => new Date(entry.createdAt).getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const text = JSON.stringify(log);
    for (const secret of [password, session.accessToken, session.refreshToken, newSecret, integration.appSecret])
      expect(text).not.toContain(secret);
  });

  it('pages with first and after', async () => {
    const admin = org().admin;
    const all = dataOf(await gql(server().graphqlUrl, AuditLog, { first: 100 }, { token: admin.token })).auditLog.edges;
    expect(all.length).toBeGreaterThan(3);
    const first = dataOf(await gql(server().graphqlUrl, AuditLog, { first: 2 }, { token: admin.token })).auditLog;
    expect(first.pageInfo.hasNextPage).toBe(true);
    const next = dataOf(
      await gql(server().graphqlUrl, AuditLog, { first: 2, after: first.pageInfo.endCursor }, { token: admin.token }),
    ).auditLog;
    expect([...first.edges, ...next.edges].map((edge) => edge.node.id)).toEqual(all.slice(0, 4).map((e) => e.node.id));
  });

  it('is for admins of the organization only', async () => {
    expect(errorCodes(await gql(server().graphqlUrl, AuditLog, {}, { token: org().users.Staff!.token }))).toEqual([
      'FORBIDDEN',
    ]);
    const other = await seedOrganization(server());
    const theirs = dataOf(await gql(server().graphqlUrl, AuditLog, { first: 100 }, { token: other.admin.token }));
    expect(JSON.stringify(theirs)).not.toContain(org().id);
    for (const edge of theirs.auditLog.edges) expect(edge.node.actor?.id ?? other.admin.id).toBe(other.admin.id);
  });
});
