import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { strongPassword } from '../support/accounts.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { linkToken, startSmtpServer } from '../support/smtp.js';

// Invitations and password resets (issue 11): single-use expiring links, e-mailed through a real SMTP server
// started here when SMTP_URL is set, handed to the admin when it is not.

const Invite = graphql(`
  mutation InvitationsInvite($input: InviteUserInput!) {
    inviteUser(input: $input) {
      id
      email
      role
      expiresAt
      acceptUrl
      emailed
    }
  }
`);

const Accept = graphql(`
  mutation InvitationsAccept($input: AcceptInvitationInput!) {
    acceptInvitation(input: $input) {
      accessToken
      refreshToken
      user {
        id
        displayName
        role
      }
    }
  }
`);

const RequestReset = graphql(`
  mutation InvitationsRequestReset($email: String!) {
    requestPasswordReset(email: $email)
  }
`);

const Reset = graphql(`
  mutation InvitationsReset($input: ResetPasswordInput!) {
    resetPassword(input: $input) {
      accessToken
      user {
        id
      }
    }
  }
`);

const SignIn = graphql(`
  mutation InvitationsSignIn($input: SignInInput!) {
    signIn(input: $input) {
      accessToken
      refreshToken
    }
  }
`);

const Viewer = graphql(`
  query InvitationsViewer {
    viewer {
      id
      role
    }
  }
`);

let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
/** Without SMTP_URL: the admin gets the link. */
let plain: TestServer;
/** With SMTP_URL: links go out by mail. */
let mailing: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  smtp = await startSmtpServer();
  [plain, mailing] = await Promise.all([
    startServer(),
    startServer({
      env: { SMTP_URL: smtp.url, SMTP_FROM: 'Chat <no-reply@chat.test>', ACCOUNT_LINKS_URL: 'https://chat.test/app' },
    }),
  ]);
  org = await seedOrganization(plain, { users: ['Staff'] });
});
afterAll(async () => {
  await Promise.all([plain.stop(), mailing.stop()]);
  await smtp.stop();
});

const newEmail = (name: string) => `${name}-${randomBytes(4).toString('hex')}@example.test`;

const invite = (
  server: TestServer,
  email: string,
  role: 'USER' | 'ADMIN' | 'CLIENT' = 'USER',
  token = org.admin.token,
) => gql(server.graphqlUrl, Invite, { input: { email, displayName: 'Invited', role } }, { token });

const tokenOf = (acceptUrl: string | null | undefined) => new URL(acceptUrl!).searchParams.get('token')!;

const refusedLink = (response: { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }) => {
  expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
  expect(response.errors?.[0]?.extensions?.field).toBe('input.token');
  return response.errors![0]!.message;
};

describe('invitations without SMTP_URL', () => {
  it('gives the admin a single-use link that sets the password and signs the user in', async () => {
    const email = newEmail('newcomer');
    const invitation = dataOf(await invite(plain, email, 'ADMIN')).inviteUser;
    expect(invitation).toMatchObject({ email, role: 'ADMIN', emailed: false });
    expect(invitation.acceptUrl).toMatch(/^http:\/\/localhost:\d+\/accept-invitation\?token=[A-Za-z0-9_-]{43}$/);
    expect(new Date(invitation.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6.9 * 86_400_000);
    const token = tokenOf(invitation.acceptUrl);

    // A weak password is refused, saying why, and does not spend the link.
    const weak = await gql(plain.graphqlUrl, Accept, { input: { token, password: 'password1234567' } });
    expect(weak.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.password' } });
    expect(weak.errors?.[0]?.message).toContain('most often tried');

    const password = strongPassword();
    const accepted = dataOf(
      await gql(plain.graphqlUrl, Accept, { input: { token, password, displayName: 'Ada Newcomer' } }),
    ).acceptInvitation;
    expect(accepted.user).toMatchObject({ displayName: 'Ada Newcomer', role: 'ADMIN' });
    expect(dataOf(await gql(plain.graphqlUrl, Viewer, {}, { token: accepted.accessToken })).viewer.id).toBe(
      accepted.user.id,
    );
    expect(dataOf(await gql(plain.graphqlUrl, SignIn, { input: { email, password } })).signIn.accessToken).toBeTruthy();

    // Used once: the same link again is refused with one clear message.
    const again = await gql(plain.graphqlUrl, Accept, { input: { token, password: strongPassword() } });
    expect(refusedLink(again)).toContain('invalid, has expired or was used already');
  });

  it('refuses expired and forged links with the same BAD_USER_INPUT', async () => {
    const email = newEmail('late');
    const invitation = dataOf(await invite(plain, email)).inviteUser;
    await plain.app.db.prisma.accountLink.update({
      where: { id: invitation.id },
      data: { expiresAt: new Date(Date.now() - 1_000) },
    });
    const expired = refusedLink(
      await gql(plain.graphqlUrl, Accept, {
        input: { token: tokenOf(invitation.acceptUrl), password: strongPassword() },
      }),
    );
    const forged = refusedLink(
      await gql(plain.graphqlUrl, Accept, {
        input: { token: randomBytes(32).toString('base64url'), password: strongPassword() },
      }),
    );
    expect(forged).toBe(expired);
  });

  it('replaces the link when the admin invites again', async () => {
    const email = newEmail('twice');
    const first = tokenOf(dataOf(await invite(plain, email)).inviteUser.acceptUrl);
    const second = tokenOf(dataOf(await invite(plain, email)).inviteUser.acceptUrl);
    refusedLink(await gql(plain.graphqlUrl, Accept, { input: { token: first, password: strongPassword() } }));
    expect(
      dataOf(await gql(plain.graphqlUrl, Accept, { input: { token: second, password: strongPassword() } }))
        .acceptInvitation.user.role,
    ).toBe('USER');
    // Now the address has an account: inviting it again is a conflict.
    expect(errorCodes(await invite(plain, email))).toEqual(['CONFLICT']);
  });

  it('is for admins, and not for clients, who never sign in', async () => {
    expect(errorCodes(await invite(plain, newEmail('x'), 'USER', org.users.Staff!.token))).toEqual(['FORBIDDEN']);
    const client = await invite(plain, newEmail('client'), 'CLIENT');
    expect(client.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.role' });
  });
});

describe('with SMTP_URL', () => {
  it('e-mails the invitation link to the invited address only', async () => {
    const email = newEmail('mailed');
    const invitation = dataOf(await invite(mailing, email)).inviteUser;
    expect(invitation).toMatchObject({ emailed: true, acceptUrl: null });
    const mail = await smtp.mailTo(email, /accept-invitation/);
    expect(mail.text).toContain('https://chat.test/app/accept-invitation?token=');
    expect(mail.text).toContain(org.name);
    const accepted = dataOf(
      await gql(mailing.graphqlUrl, Accept, {
        input: { token: linkToken(mail, 'accept-invitation'), password: strongPassword() },
      }),
    ).acceptInvitation;
    expect(accepted.user.role).toBe('USER');
  });

  it('resets a password through the mailed link, ending every other session', async () => {
    const email = newEmail('forgetful');
    dataOf(await invite(mailing, email));
    const oldPassword = strongPassword();
    const signedIn = dataOf(
      await gql(mailing.graphqlUrl, Accept, {
        input: {
          token: linkToken(await smtp.mailTo(email, /accept-invitation/), 'accept-invitation'),
          password: oldPassword,
        },
      }),
    ).acceptInvitation;

    expect(
      dataOf(await gql(mailing.graphqlUrl, RequestReset, { email: email.toUpperCase() })).requestPasswordReset,
    ).toBe(true);
    const mail = await smtp.mailTo(email, /reset-password/);
    expect(mail.text).toContain('https://chat.test/app/reset-password?token=');
    const token = linkToken(mail, 'reset-password');
    const weak = await gql(mailing.graphqlUrl, Reset, { input: { token, newPassword: 'short' } });
    expect(weak.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.newPassword' } });

    const newPassword = strongPassword();
    const reset = dataOf(await gql(mailing.graphqlUrl, Reset, { input: { token, newPassword } })).resetPassword;
    expect(reset.user.id).toBe(signedIn.user.id);
    // The session from before the reset is over; the old password no longer works, the new one does.
    expect(errorCodes(await gql(mailing.graphqlUrl, Viewer, {}, { token: signedIn.accessToken }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(errorCodes(await gql(mailing.graphqlUrl, SignIn, { input: { email, password: oldPassword } }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(
      dataOf(await gql(mailing.graphqlUrl, SignIn, { input: { email, password: newPassword } })).signIn,
    ).toBeTruthy();
    const reused = await gql(mailing.graphqlUrl, Reset, { input: { token, newPassword: strongPassword() } });
    expect(refusedLink(reused)).toContain('password-reset link is invalid, has expired or was used already');
  });

  it('answers true for an address without an account, and sends nothing', async () => {
    const nobody = newEmail('nobody');
    expect(dataOf(await gql(mailing.graphqlUrl, RequestReset, { email: nobody })).requestPasswordReset).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.received.filter((mail) => mail.to.includes(nobody))).toEqual([]);
  });
});
