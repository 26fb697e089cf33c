import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { runTs } from '../support/process.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { startServer, TEST_JWT_SECRET } from '../support/server.js';
import { graphql } from '../gql/index.js';

const SignIn = graphql(`
  mutation CliSignIn($input: SignInInput!) {
    signIn(input: $input) {
      user {
        id
        email
      }
    }
  }
`);

const Accept = graphql(`
  mutation CliAccept($input: AcceptInvitationInput!) {
    acceptInvitation(input: $input) {
      user {
        email
        role
      }
    }
  }
`);

const env = () => ({
  DATABASE_URL: process.env.DATABASE_URL,
  JWT_SECRET: TEST_JWT_SECRET,
  MIGRATE_ON_START: 'false',
  LOG_LEVEL: 'error',
});

async function cli(...args: string[]) {
  const run = runTs('src/cli/index.ts', args, env());
  return { code: await run.exited, output: run.output() };
}

describe('operator CLI', () => {
  it('creates an organization with its first admin, then prints a working token for them', async () => {
    const email = `ops-${randomBytes(4).toString('hex')}@example.test`;
    const created = await cli('create-organization', '--name', 'Ops Co', '--admin-email', email);
    expect(created.code).toBe(0);
    const ids = JSON.parse(created.output.trim().split('\n').at(-1)!) as {
      organizationId: string;
      adminUserId: string;
    };
    expect(ids.adminUserId).toMatch(/^[0-9a-f-]{36}$/);

    const token = await cli('token', '--email', email);
    expect(token.code).toBe(0);
    const jwt = token.output.trim().split('\n').at(-1)!;
    expect(jwt.split('.')).toHaveLength(3);
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { sub: string };
    expect(payload.sub).toBe(ids.adminUserId);
  }, 60_000);

  it('seeds the demo organization once, with channels, a client, a thread and reactions', async () => {
    const first = await cli('seed');
    expect(first.code).toBe(0);
    expect(first.output).toContain('Demo organization created');
    const adminPassword = /ADMIN\s+admin@example\.com\s+(\S+)/.exec(first.output)?.[1];
    expect(adminPassword).toBeDefined();
    expect(first.output).toMatch(/USER\s+sam@example\.com\s+\S+/);
    const again = await cli('seed');
    expect(again.code).toBe(0);
    expect(again.output).toContain('already exists');

    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL! }) });
    try {
      const admin = await prisma.user.findFirstOrThrow({ where: { email: 'admin@example.com' } });
      const channels = await prisma.channel.findMany({ where: { organizationId: admin.organizationId } });
      expect(channels.map((channel) => channel.channelType).sort()).toEqual(['DIRECT', 'PRIVATE', 'PRIVATE', 'PUBLIC']);
      expect(
        await prisma.clientChannelAssignment.count({ where: { channel: { organizationId: admin.organizationId } } }),
      ).toBe(1);
      expect(
        await prisma.message.count({ where: { organizationId: admin.organizationId, threadId: { not: null } } }),
      ).toBe(2);
      expect(await prisma.messageReaction.count({ where: { message: { organizationId: admin.organizationId } } })).toBe(
        2,
      );
    } finally {
      await prisma.$disconnect();
    }
  }, 60_000);

  it('invites a user and sets passwords; both then sign in through the server', async () => {
    const adminEmail = `boss-${randomBytes(4).toString('hex')}@example.test`;
    const created = await cli('create-organization', '--name', 'Invite Co', '--admin-email', adminEmail);
    const { organizationId } = JSON.parse(created.output.trim().split('\n').at(-1)!) as { organizationId: string };
    const invitedEmail = `invited-${randomBytes(4).toString('hex')}@example.test`;
    const invited = await cli(
      'invite',
      '--email',
      invitedEmail,
      '--name',
      'Ivy',
      '--role',
      'ADMIN',
      '--organization',
      organizationId,
    );
    expect(invited.code).toBe(0);
    const link = /(\S+\/accept-invitation\?token=\S+)/.exec(invited.output)![1]!;
    const set = await cli('set-password', '--email', adminEmail);
    expect(set.code).toBe(0);
    const password = /Password for \S+: (\S+)/.exec(set.output)![1]!;
    expect(password.length).toBeGreaterThanOrEqual(15);

    const server = await startServer();
    try {
      const signedIn = dataOf(await gql(server.graphqlUrl, SignIn, { input: { email: adminEmail, password } }));
      expect(signedIn.signIn.user.email).toBe(adminEmail);
      const token = new URL(link).searchParams.get('token')!;
      const accepted = dataOf(
        await gql(server.graphqlUrl, Accept, { input: { token, password: 'violet otter swims upstream' } }),
      );
      expect(accepted.acceptInvitation.user).toEqual({ email: invitedEmail, role: 'ADMIN' });
      // A password given on the command line replaces the generated one.
      expect((await cli('set-password', '--email', adminEmail, '--password', 'amber heron wades slowly')).code).toBe(0);
      expect(errorCodes(await gql(server.graphqlUrl, SignIn, { input: { email: adminEmail, password } }))).toEqual([
        'UNAUTHENTICATED',
      ]);
      const weak = await cli('set-password', '--email', adminEmail, '--password', 'password');
      expect(weak.code).toBe(1);
      expect(weak.output).toContain('at least 15 characters');
    } finally {
      await server.stop();
    }
  }, 90_000);

  it('refuses bad input with the reason and exit code 1', async () => {
    const missing = await cli('create-organization', '--name', '', '--admin-email', 'not-an-email');
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('--name: must not be empty');
    expect(missing.output).toContain('--admin-email: must be an email address');
    const unknown = await cli('token', '--email', 'nobody@nowhere.test');
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('no user with email nobody@nowhere.test');
  }, 60_000);
});
