import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql } from '../gql/index.js';
import { givePassword, strongPassword } from '../support/accounts.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { addUser, seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { pruneExpiredCredentials } from '../../src/modules/accounts/credential-pruning.js';

// Passwords and sessions (issue 11): sign-in, refresh-token rotation and reuse detection, sign-out, and the
// revocations that must reach open sockets on another instance within a second.

const SignIn = graphql(`
  mutation AccountsSignIn($input: SignInInput!) {
    signIn(input: $input) {
      accessToken
      expiresAt
      refreshToken
      refreshTokenExpiresAt
      user {
        id
        email
        role
      }
    }
  }
`);

const Refresh = graphql(`
  mutation AccountsRefresh($token: String!) {
    refreshSession(refreshToken: $token) {
      accessToken
      refreshToken
    }
  }
`);

const SignOut = graphql(`
  mutation AccountsSignOut($token: String!) {
    signOut(refreshToken: $token)
  }
`);

const SignOutEverywhere = graphql(`
  mutation AccountsSignOutEverywhere {
    signOutEverywhere
  }
`);

const ChangePassword = graphql(`
  mutation AccountsChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input) {
      accessToken
      refreshToken
    }
  }
`);

const ChangeUser = graphql(`
  mutation AccountsChangeUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      id
    }
  }
`);

const Viewer = graphql(`
  query AccountsViewer {
    viewer {
      id
    }
  }
`);

/** Changes happen on `first`; sockets watched are on `second`. */
let first: TestServer;
let second: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  [first, second] = await Promise.all([startServer({ redis: true }), startServer({ redis: true })]);
  org = await seedOrganization(first);
});
afterAll(async () => {
  await Promise.all([first.stop(), second.stop()]);
});

async function staffWithPassword(name: string, role: 'USER' | 'ADMIN' | 'CLIENT' = 'USER') {
  const user = await addUser(first, org, name, role);
  return { user, password: await givePassword(first, user, org.id) };
}

const signIn = (server: TestServer, email: string, password: string, organizationId?: string) =>
  gql(server.graphqlUrl, SignIn, { input: { email, password, organizationId } });

const viewerId = async (server: TestServer, token: string) =>
  (await gql(server.graphqlUrl, Viewer, {}, { token })).data?.viewer.id;

/** A graphql-ws connection on `second` that records how it closed. */
async function openSocket(token: string) {
  const closes: number[] = [];
  let opened!: () => void;
  const connected = new Promise<void>((resolve) => (opened = resolve));
  const client = createClient({
    url: second.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
    on: { connected: () => opened(), closed: (event) => closes.push((event as { code: number }).code) },
  });
  await connected;
  return { client, closes };
}

const within = async (ms: number, done: () => boolean) => {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return done();
};

describe('signIn', () => {
  it('signs staff in with e-mail and password: a short access token and a refresh token', async () => {
    const { user, password } = await staffWithPassword('Signer');
    const before = Date.now();
    const payload = dataOf(await signIn(first, user.email.toUpperCase(), password)).signIn;
    expect(payload.user).toEqual({ id: user.id, email: user.email, role: 'USER' });
    expect(await viewerId(first, payload.accessToken)).toBe(user.id);
    // ACCESS_TOKEN_TTL defaults to 15 minutes.
    const lifetime = new Date(payload.expiresAt).getTime() - before;
    expect(lifetime).toBeGreaterThan(14 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(15 * 60_000 + 1_000);
    expect(new Date(payload.refreshTokenExpiresAt).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    // Stored hashed, never as it is.
    const stored = await first.app.db.prisma.refreshToken.findMany({
      where: { session: { userId: user.id } },
      select: { tokenHash: true },
    });
    expect(stored.map((row) => row.tokenHash)).not.toContain(payload.refreshToken);
    const { passwordHash } = await first.app.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('answers an unknown e-mail, a wrong password, a deactivated user and a client with one message', async () => {
    const { user, password } = await staffWithPassword('Refused');
    const { user: gone, password: gonePassword } = await staffWithPassword('Gone');
    dataOf(
      await gql(first.graphqlUrl, ChangeUser, { input: { id: gone.id, isActive: false } }, { token: org.admin.token }),
    );
    const { user: client, password: clientPassword } = await staffWithPassword('Customer', 'CLIENT');
    const attempts = [
      await signIn(first, `nobody-${randomBytes(4).toString('hex')}@example.test`, password),
      await signIn(first, user.email, `${password}x`),
      await signIn(first, gone.email, gonePassword),
      await signIn(first, client.email, clientPassword),
    ];
    for (const response of attempts) {
      expect(response.data).toBeNull();
      expect(response.errors).toEqual([
        expect.objectContaining({ message: 'Wrong e-mail or password', extensions: { code: 'UNAUTHENTICATED' } }),
      ]);
    }
  });

  it('refuses a password stored as a hash argon2 cannot read like a wrong one, and says so in the audit log', async () => {
    const { user, password } = await staffWithPassword('Unreadable');
    await first.app.db.prisma.user.update({ where: { id: user.id }, data: { passwordHash: 'not-a-phc-string' } });
    const response = await signIn(first, user.email, password);
    expect(response.errors).toEqual([
      expect.objectContaining({ message: 'Wrong e-mail or password', extensions: { code: 'UNAUTHENTICATED' } }),
    ]);
    // Recorded without holding the answer back.
    let failure = null;
    for (const deadline = Date.now() + 5_000; !failure && Date.now() < deadline;)
      failure = await first.app.db.prisma.auditEvent.findFirst({
        where: { subjectUserId: user.id, action: 'sign-in-failed' },
      });
    expect(failure?.details).toEqual({ reason: 'unreadable-password-hash' });
    // A new password (a reset, or an admin's) is the way back in.
    const renewed = await givePassword(first, user, org.id);
    expect(dataOf(await signIn(first, user.email, renewed)).signIn.user.id).toBe(user.id);
  });

  it('pays for an argon2id verification for an unknown e-mail as for a wrong password', async () => {
    const { user } = await staffWithPassword('Timed');
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const timed = async (work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      return performance.now() - started;
    };
    // What one verification with the server's parameters costs on this machine, measured here.
    const sample = await hash('sample password', { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const argon2: number[] = [];
    const unknown: number[] = [];
    const known: number[] = [];
    for (let round = 0; round < 5; round++) {
      argon2.push(await timed(() => verify(sample, 'sample password')));
      unknown.push(
        await timed(() => signIn(first, `ghost-${round}-${randomBytes(3).toString('hex')}@example.test`, 'x')),
      );
      known.push(await timed(() => signIn(first, user.email, 'not the password at all')));
    }
    // Without the decoy hash an unknown address would answer in a few milliseconds, far below one verification.
    expect(median(unknown)).toBeGreaterThan(median(argon2) * 0.5);
    expect(median(known)).toBeGreaterThan(median(argon2) * 0.5);
  });

  it('is rate-limited per account and per address, counted across instances', async () => {
    const prefix = `signin-${randomBytes(4).toString('hex')}:`;
    const env = { REDIS_PREFIX: prefix, SIGN_IN_FAILURES_PER_ACCOUNT: '3', SIGN_IN_FAILURES_PER_IP: '5' };
    const [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
    try {
      const { user, password } = await staffWithPassword('Limited');
      // Three failures, alternating instances: the fourth attempt is refused even with the right password.
      for (const server of [a, b, a])
        expect(errorCodes(await signIn(server, user.email, 'wrong wrong wrong'))).toEqual(['UNAUTHENTICATED']);
      const limited = await signIn(b, user.email, password);
      expect(errorCodes(limited)).toEqual(['RATE_LIMITED']);
      expect(limited.status).toBe(429);
      // Another account from the same address: two more failures spend the address's budget of five.
      const other = await staffWithPassword('Neighbour');
      for (const server of [a, b])
        expect(errorCodes(await signIn(server, other.user.email, 'wrong wrong wrong'))).toEqual(['UNAUTHENTICATED']);
      expect(errorCodes(await signIn(a, other.user.email, other.password))).toEqual(['RATE_LIMITED']);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('refresh tokens', () => {
  it('rotates on every refresh; the new access token works', async () => {
    const { user, password } = await staffWithPassword('Rotator');
    const signedIn = dataOf(await signIn(first, user.email, password)).signIn;
    const refreshed = dataOf(await gql(second.graphqlUrl, Refresh, { token: signedIn.refreshToken })).refreshSession;
    expect(refreshed.refreshToken).not.toBe(signedIn.refreshToken);
    expect(await viewerId(second, refreshed.accessToken)).toBe(user.id);
    const again = dataOf(await gql(first.graphqlUrl, Refresh, { token: refreshed.refreshToken })).refreshSession;
    expect(await viewerId(first, again.accessToken)).toBe(user.id);
  });

  it('revokes the whole session when a rotated refresh token comes back (theft)', async () => {
    const { user, password } = await staffWithPassword('Robbed');
    const stolen = dataOf(await signIn(first, user.email, password)).signIn.refreshToken;
    const legitimate = dataOf(await gql(first.graphqlUrl, Refresh, { token: stolen })).refreshSession.refreshToken;
    // The thief presents the token the client already rotated.
    const reuse = await gql(first.graphqlUrl, Refresh, { token: stolen });
    expect(errorCodes(reuse)).toEqual(['UNAUTHENTICATED']);
    // Neither of them can go on: the session is revoked.
    expect(errorCodes(await gql(first.graphqlUrl, Refresh, { token: legitimate }))).toEqual(['UNAUTHENTICATED']);
    const session = await first.app.db.prisma.authSession.findFirstOrThrow({ where: { userId: user.id } });
    expect(session.revokedReason).toBe('refresh-token-reused');
    // Another session of the same user is untouched.
    const other = dataOf(await signIn(first, user.email, password)).signIn.refreshToken;
    expect(dataOf(await gql(first.graphqlUrl, Refresh, { token: other })).refreshSession.accessToken).toBeTruthy();
  });

  it('lets exactly one of two concurrent refreshes with the same token through', async () => {
    const { user, password } = await staffWithPassword('Racer');
    const token = dataOf(await signIn(first, user.email, password)).signIn.refreshToken;
    const results = await Promise.all([
      gql(first.graphqlUrl, Refresh, { token }),
      gql(second.graphqlUrl, Refresh, { token }),
    ]);
    expect(results.filter((result) => result.data?.refreshSession).length).toBeLessThanOrEqual(1);
    expect(results.flatMap(errorCodes)).toContain('UNAUTHENTICATED');
  });

  it('rotates concurrent refreshes each on its own, and lets one of three copies of a token through', async () => {
    const { user, password } = await staffWithPassword('Crowd');
    const tokens: string[] = [];
    for (let session = 0; session < 8; session++)
      tokens.push(dataOf(await signIn(first, user.email, password)).signIn.refreshToken);
    // Refreshes that arrive together are rotated together (one statement): each still gets its own new token.
    const refreshed = await Promise.all(tokens.map((token) => gql(first.graphqlUrl, Refresh, { token })));
    const next = refreshed.map((result) => dataOf(result).refreshSession.refreshToken);
    expect(new Set(next).size).toBe(8);
    expect(next.some((token) => tokens.includes(token))).toBe(false);
    // The same token three times at once on one instance: exactly one rotates; the copies are reuse, which ends
    // that session, and that session only.
    const [copied, ...others] = next as [string, ...string[]];
    const raced = await Promise.all([1, 2, 3].map(() => gql(first.graphqlUrl, Refresh, { token: copied })));
    expect(raced.filter((result) => result.data?.refreshSession)).toHaveLength(1);
    expect(raced.flatMap(errorCodes)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED']);
    const sessions = await first.app.db.prisma.authSession.findMany({ where: { userId: user.id } });
    expect(sessions.filter((session) => session.revokedReason === 'refresh-token-reused')).toHaveLength(1);
    for (const token of others)
      expect(dataOf(await gql(first.graphqlUrl, Refresh, { token })).refreshSession.accessToken).toBeTruthy();
  });

  it('refuses forged, unknown and over-long tokens', async () => {
    expect(errorCodes(await gql(first.graphqlUrl, Refresh, { token: randomBytes(32).toString('base64url') }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(errorCodes(await gql(first.graphqlUrl, Refresh, { token: 'x'.repeat(500) }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('sign-out', () => {
  it("signOut ends that session's refresh token only", async () => {
    const { user, password } = await staffWithPassword('Leaver');
    const one = dataOf(await signIn(first, user.email, password)).signIn;
    const two = dataOf(await signIn(first, user.email, password)).signIn;
    expect(dataOf(await gql(first.graphqlUrl, SignOut, { token: one.refreshToken })).signOut).toBe(true);
    expect(errorCodes(await gql(first.graphqlUrl, Refresh, { token: one.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect(dataOf(await gql(first.graphqlUrl, Refresh, { token: two.refreshToken })).refreshSession).toBeTruthy();
    // Signing out twice, or with a token nobody issued, is not an error and says nothing.
    expect(dataOf(await gql(first.graphqlUrl, SignOut, { token: one.refreshToken })).signOut).toBe(true);
    expect(dataOf(await gql(first.graphqlUrl, SignOut, { token: 'made-up' })).signOut).toBe(true);
  });

  it('signOutEverywhere ends every session and token, closing sockets on another instance within a second', async () => {
    const { user, password } = await staffWithPassword('Everywhere');
    const laptop = dataOf(await signIn(first, user.email, password)).signIn;
    const phone = dataOf(await signIn(second, user.email, password)).signIn;
    const socket = await openSocket(phone.accessToken);
    try {
      expect(
        dataOf(await gql(first.graphqlUrl, SignOutEverywhere, {}, { token: laptop.accessToken })).signOutEverywhere,
      ).toBe(true);
      const answeredAt = Date.now();
      expect(await within(1_000, () => socket.closes.length > 0)).toBe(true);
      expect(Date.now() - answeredAt).toBeLessThan(1_000);
      expect(socket.closes).toEqual([4403]);
      for (const token of [laptop.accessToken, phone.accessToken]) {
        for (const server of [first, second]) expect(await viewerId(server, token)).toBeUndefined();
      }
      for (const { refreshToken } of [laptop, phone])
        expect(errorCodes(await gql(second.graphqlUrl, Refresh, { token: refreshToken }))).toEqual(['UNAUTHENTICATED']);
      // Signing in afterwards works at once.
      const fresh = dataOf(await signIn(second, user.email, password)).signIn;
      expect(await viewerId(first, fresh.accessToken)).toBe(user.id);
    } finally {
      await socket.client.dispose();
    }
  });

  it('signOutEverywhere ends server-sent event streams opened with an old token, on another instance', async () => {
    const { user, password } = await staffWithPassword('Streaming');
    const { accessToken } = dataOf(await signIn(first, user.email, password)).signIn;
    const response = await fetch(second.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${accessToken}`,
      },
      body: JSON.stringify({ query: 'subscription { viewerEvents { __typename } }' }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    let ended = false;
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ended = true;
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ended).toBe(false);
      dataOf(await gql(first.graphqlUrl, SignOutEverywhere, {}, { token: accessToken }));
      expect(await within(1_000, () => ended || text.includes('UNAUTHENTICATED'))).toBe(true);
      expect(text).toContain('Signed out');
    } finally {
      await reader.cancel().catch(() => undefined);
      await reading.catch(() => undefined);
    }
  });

  it('deactivation and a role change revoke refresh tokens', async () => {
    const { user: demoted, password: demotedPassword } = await staffWithPassword('Promoted', 'ADMIN');
    const { user: gone, password: gonePassword } = await staffWithPassword('Deactivated');
    const demotedRefresh = dataOf(await signIn(first, demoted.email, demotedPassword)).signIn.refreshToken;
    const goneRefresh = dataOf(await signIn(first, gone.email, gonePassword)).signIn.refreshToken;
    dataOf(
      await gql(first.graphqlUrl, ChangeUser, { input: { id: demoted.id, role: 'USER' } }, { token: org.admin.token }),
    );
    dataOf(
      await gql(first.graphqlUrl, ChangeUser, { input: { id: gone.id, isActive: false } }, { token: org.admin.token }),
    );
    expect(errorCodes(await gql(second.graphqlUrl, Refresh, { token: demotedRefresh }))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await gql(second.graphqlUrl, Refresh, { token: goneRefresh }))).toEqual(['UNAUTHENTICATED']);
    const reasons = await first.app.db.prisma.authSession.findMany({
      where: { userId: { in: [demoted.id, gone.id] } },
      select: { userId: true, revokedReason: true },
    });
    expect(reasons).toEqual(
      expect.arrayContaining([
        { userId: demoted.id, revokedReason: 'role-changed' },
        { userId: gone.id, revokedReason: 'deactivated' },
      ]),
    );
  });
});

describe('changePassword', () => {
  it('refuses a weak password with BAD_USER_INPUT saying why, and a wrong current password', async () => {
    const { user, password } = await staffWithPassword('Weak');
    const { accessToken } = dataOf(await signIn(first, user.email, password)).signIn;
    const attempt = (currentPassword: string, newPassword: string) =>
      gql(first.graphqlUrl, ChangePassword, { input: { currentPassword, newPassword } }, { token: accessToken });
    const cases: [string, string][] = [
      ['short', 'at least 15 characters'],
      ['passwordpassword', 'most often tried'],
      ['1234567890123456', 'sequence'],
      ['zzzzzzzzzzzzzzzzzz', 'too few different characters'],
    ];
    for (const [weak, why] of cases) {
      const response = await attempt(password, weak);
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.newPassword' });
      expect(response.errors?.[0]?.message).toContain(why);
    }
    const wrong = await attempt(`${password}!`, strongPassword());
    expect(wrong.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.currentPassword' });
    expect(
      errorCodes(
        await gql(first.graphqlUrl, ChangePassword, {
          input: { currentPassword: password, newPassword: strongPassword() },
        }),
      ),
    ).toEqual(['UNAUTHENTICATED']);
  });

  it('changes the password and ends every other session and open socket', async () => {
    const { user, password } = await staffWithPassword('Changer');
    const other = dataOf(await signIn(second, user.email, password)).signIn;
    const current = dataOf(await signIn(first, user.email, password)).signIn;
    const socket = await openSocket(other.accessToken);
    try {
      const newPassword = strongPassword();
      const renewed = dataOf(
        await gql(
          first.graphqlUrl,
          ChangePassword,
          { input: { currentPassword: password, newPassword } },
          { token: current.accessToken },
        ),
      ).changePassword;
      expect(await within(1_000, () => socket.closes.length > 0)).toBe(true);
      expect(socket.closes).toEqual([4403]);
      expect(await viewerId(second, other.accessToken)).toBeUndefined();
      expect(errorCodes(await gql(first.graphqlUrl, Refresh, { token: other.refreshToken }))).toEqual([
        'UNAUTHENTICATED',
      ]);
      expect(await viewerId(second, renewed.accessToken)).toBe(user.id);
      expect(errorCodes(await signIn(first, user.email, password))).toEqual(['UNAUTHENTICATED']);
      expect(dataOf(await signIn(first, user.email, newPassword)).signIn.user.id).toBe(user.id);
    } finally {
      await socket.client.dispose();
    }
  });
});

describe('pruning', () => {
  it('deletes expired refresh tokens and the sessions they leave empty, and keeps live ones', async () => {
    const { user, password } = await staffWithPassword('Pruned');
    const live = dataOf(await signIn(first, user.email, password)).signIn;
    const old = dataOf(await signIn(first, user.email, password)).signIn;
    const { prisma } = first.app.db;
    const oldToken = await prisma.refreshToken.findFirstOrThrow({
      where: { session: { userId: user.id } },
      orderBy: { createdAt: 'desc' },
    });
    await prisma.refreshToken.update({ where: { id: oldToken.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    await prisma.authSession.update({
      where: { id: oldToken.sessionId },
      data: { createdAt: new Date(Date.now() - 2 * 86_400_000) },
    });
    while (await pruneExpiredCredentials(first.app.db.pool, 1_000));
    expect(await prisma.authSession.findUnique({ where: { id: oldToken.sessionId } })).toBeNull();
    expect(errorCodes(await gql(first.graphqlUrl, Refresh, { token: old.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect(dataOf(await gql(first.graphqlUrl, Refresh, { token: live.refreshToken })).refreshSession).toBeTruthy();
  });
});
