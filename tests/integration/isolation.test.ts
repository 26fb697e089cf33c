import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { givePassword } from '../support/accounts.js';
import { schema } from '../../src/schema/index.js';
import { integrationWithTraffic, post, processed } from '../support/conversations.js';
import { fixtureText } from '../support/fixtures.js';
import { createChannel, send } from '../support/messaging.js';
import type { TestIntegration } from '../support/platform.js';
import { firstSubscriptionResult, rawGql } from '../support/raw.js';
import { addUser, seedOrganization, type TestOrganization, type TestUser } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { repeatUntilStopped } from '../support/repeat.js';

/**
 * Every query, mutation and subscription of the schema, called by users of organization A with the ids of
 * organization B, and by each role against what it may not touch. The operations are enumerated from the
 * schema itself: an operation added without a row here fails the first test.
 */

interface World {
  org: TestOrganization;
  staff: TestUser;
  client: TestUser;
  publicChannelId: string;
  privateChannelId: string;
  clientChannelId: string;
  messageId: string;
  /** A WhatsApp integration, its client's verified link and assignment, and a delivery it received. */
  integration: TestIntegration;
  linkId: string;
  assignmentId: string;
  deliveryId: string;
}

let server: TestServer;
let a: World;
let b: World;

async function world(): Promise<World> {
  const org = await seedOrganization(server, { users: ['Staff'], clients: ['Client'] });
  const staff = org.users.Staff!;
  const client = org.clients.Client!;
  const publicChannel = await createChannel(server, staff);
  const privateChannel = await createChannel(server, staff, { channelType: 'PRIVATE' });
  const clientChannel = await createChannel(server, staff, { channelType: 'PRIVATE' });
  const assignment = await server.app.db.prisma.clientChannelAssignment.create({
    data: { clientUserId: client.id, channelId: clientChannel.id, assignedBy: org.admin.id },
  });
  const message = await send(server, staff, privateChannel.id, 'B-secret');
  const { integration, link, delivery } = await integrationWithTraffic(server, org, client);
  return {
    org,
    staff,
    client,
    publicChannelId: publicChannel.id,
    privateChannelId: privateChannel.id,
    clientChannelId: clientChannel.id,
    messageId: message.id,
    integration,
    linkId: link.id,
    assignmentId: assignment.id,
    deliveryId: delivery.id,
  };
}

const call = (query: string, variables: Record<string, unknown>, user: TestUser) =>
  rawGql(server.graphqlUrl, query, variables, user.token);

const codes = (response: { errors?: readonly { extensions?: Record<string, unknown> }[] }) =>
  (response.errors ?? []).map((error) => error.extensions?.code);

/** Every user of A gets `code` (or, for a nullable lookup, null data at `field`). */
async function refusedForAll(query: string, variables: Record<string, unknown>, code: string) {
  for (const user of [a.org.admin, a.staff, a.client]) {
    const response = await call(query, variables, user);
    expect({ user: user.role, codes: codes(response) }).toEqual({ user: user.role, codes: [code] });
  }
}

const bIds = () => [
  b.org.id,
  b.org.admin.id,
  b.staff.id,
  b.client.id,
  b.publicChannelId,
  b.privateChannelId,
  b.clientChannelId,
  b.messageId,
  b.integration.id,
  b.linkId,
  b.assignmentId,
  b.deliveryId,
];

/** Staff and clients are refused an admin-only operation (called with A's own ids). */
async function adminOnly(query: string, variables: Record<string, unknown>) {
  for (const user of [a.staff, a.client]) {
    expect({ user: user.role, codes: codes(await call(query, variables, user)) }).toEqual({
      user: user.role,
      codes: ['FORBIDDEN'],
    });
  }
}

/** Nothing in the response mentions any id of organization B. */
function mentionsNothingOfB(response: unknown) {
  const text = JSON.stringify(response);
  for (const id of bIds()) expect(text).not.toContain(id);
}

/** A fresh staff user of A with a password, for the cases that end its sessions. */
async function signedInStaffOfA() {
  const user = await addUser(server, a.org, 'Signed in', 'USER');
  const password = await givePassword(server, user, a.org.id);
  const signIn = 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken refreshToken user { id } } }';
  const response = await rawGql(server.graphqlUrl, signIn, { i: { email: user.email, password } });
  const payload = (response.data as { signIn: { accessToken: string; refreshToken: string } }).signIn;
  return { user: { ...user, token: payload.accessToken }, password, refreshToken: payload.refreshToken };
}

const cases: Record<string, () => Promise<void>> = {
  'Query.auditLog': async () => {
    const query = '{ auditLog(first: 100) { edges { node { id actor { id } subjectUser { id } details } } } }';
    const response = await call(query, {}, a.org.admin);
    expect(response.errors).toBeUndefined();
    mentionsNothingOfB(response);
    await adminOnly(query, {});
  },
  'Mutation.inviteUser': async () => {
    const query = 'mutation($i: InviteUserInput!) { inviteUser(input: $i) { id email acceptUrl } }';
    // B's address invited into A is a new user of A; B's user is untouched.
    const input = { i: { email: b.staff.email, displayName: 'Same address', role: 'USER' } };
    const response = await call(query, input, a.org.admin);
    expect(response.errors).toBeUndefined();
    mentionsNothingOfB(response);
    const untouched = await server.app.db.prisma.user.findUniqueOrThrow({ where: { id: b.staff.id } });
    expect(untouched.organizationId).toBe(b.org.id);
    await adminOnly(query, { i: { email: 'someone-else@example.test', displayName: 'X', role: 'USER' } });
  },
  'Mutation.acceptInvitation': async () => {
    const invite = 'mutation($i: InviteUserInput!) { inviteUser(input: $i) { acceptUrl } }';
    const email = `accepting-${Date.now()}@example.test`;
    const invited = await call(invite, { i: { email, displayName: 'Accepting', role: 'USER' } }, a.org.admin);
    const token = new URL(
      (invited.data as { inviteUser: { acceptUrl: string } }).inviteUser.acceptUrl,
    ).searchParams.get('token');
    const accept = 'mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { user { id email } } }';
    const response = await rawGql(server.graphqlUrl, accept, { i: { token, password: 'violet otter swims upstream' } });
    expect((response.data as { acceptInvitation: { user: { email: string } } }).acceptInvitation.user.email).toBe(
      email,
    );
    mentionsNothingOfB(response);
  },
  'Mutation.requestPasswordReset': async () => {
    // The same answer for an address of B as for any other: it tells nothing.
    const query = 'mutation($e: String!) { requestPasswordReset(email: $e) }';
    for (const email of [b.staff.email, 'nobody@example.test'])
      expect((await rawGql(server.graphqlUrl, query, { e: email })).data).toEqual({ requestPasswordReset: true });
  },
  'Mutation.resetPassword': async () => {
    const query = 'mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { user { id } } }';
    const response = await rawGql(server.graphqlUrl, query, {
      i: { token: 'not-a-token', newPassword: 'violet otter swims upstream' },
    });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
  },
  'Mutation.setSingleSignOnUserCreation': async () => {
    const query = 'mutation($a: Boolean!) { setSingleSignOnUserCreation(allowed: $a) { id singleSignOnCreatesUsers } }';
    const response = await call(query, { a: true }, a.org.admin);
    expect(response.data).toEqual({ setSingleSignOnUserCreation: { id: a.org.id, singleSignOnCreatesUsers: true } });
    const untouched = await server.app.db.prisma.organization.findUniqueOrThrow({ where: { id: b.org.id } });
    expect(untouched.ssoCreatesUsers).toBe(false);
    await call(query, { a: false }, a.org.admin);
    await adminOnly(query, { a: true });
  },
  'Mutation.signIn': async () => {
    const ofB = await addUser(server, b.org, 'Of B', 'USER');
    const password = await givePassword(server, ofB, b.org.id);
    const query = 'mutation($i: SignInInput!) { signIn(input: $i) { user { id } } }';
    // B's user cannot be signed into organization A, and A's organization id finds nobody of B's.
    const intoA = await rawGql(server.graphqlUrl, query, {
      i: { email: ofB.email, password, organizationId: a.org.id },
    });
    expect(codes(intoA)).toEqual(['UNAUTHENTICATED']);
    const intoB = await rawGql(server.graphqlUrl, query, {
      i: { email: ofB.email, password, organizationId: b.org.id },
    });
    expect(intoB.data).toEqual({ signIn: { user: { id: ofB.id } } });
  },
  'Mutation.refreshSession': async () => {
    const { user, refreshToken } = await signedInStaffOfA();
    const query = 'mutation($t: String!) { refreshSession(refreshToken: $t) { user { id } } }';
    const response = await rawGql(server.graphqlUrl, query, { t: refreshToken });
    expect(response.data).toEqual({ refreshSession: { user: { id: user.id } } });
  },
  'Mutation.signOut': async () => {
    const { refreshToken } = await signedInStaffOfA();
    const other = await signedInStaffOfA();
    expect(
      (await call('mutation($t: String!) { signOut(refreshToken: $t) }', { t: refreshToken }, a.staff)).data,
    ).toEqual({
      signOut: true,
    });
    // Only that session ended.
    const refresh = 'mutation($t: String!) { refreshSession(refreshToken: $t) { user { id } } }';
    expect(codes(await rawGql(server.graphqlUrl, refresh, { t: other.refreshToken }))).toEqual([]);
  },
  'Mutation.signOutEverywhere': async () => {
    const { user } = await signedInStaffOfA();
    expect((await call('mutation { signOutEverywhere }', {}, user)).data).toEqual({ signOutEverywhere: true });
    // Nobody else was signed out, in A or in B.
    for (const other of [a.staff, b.staff, b.org.admin])
      expect((await call('{ viewer { id } }', {}, other)).data).toEqual({ viewer: { id: other.id } });
    expect(codes(await call('{ viewer { id } }', {}, user))).toEqual(['UNAUTHENTICATED']);
  },
  'Mutation.changePassword': async () => {
    const { user, password } = await signedInStaffOfA();
    const query = 'mutation($i: ChangePasswordInput!) { changePassword(input: $i) { user { id } } }';
    const response = await call(
      query,
      { i: { currentPassword: password, newPassword: 'violet otter swims upstream' } },
      user,
    );
    expect(response.data).toEqual({ changePassword: { user: { id: user.id } } });
  },
  'Query.viewer': async () => {
    for (const user of [a.org.admin, a.staff, a.client]) mentionsNothingOfB(await call('{ viewer { id } }', {}, user));
  },
  'Query.organization': async () => {
    const response = await call('{ organization { id } }', {}, a.staff);
    expect(response.data).toEqual({ organization: { id: a.org.id } });
  },
  'Query.users': async () => {
    const response = await call('{ users(first: 100) { edges { node { id } } } }', {}, a.org.admin);
    expect(response.errors).toBeUndefined();
    mentionsNothingOfB(response);
    expect(codes(await call('{ users { edges { node { id } } } }', {}, a.client))).toEqual(['FORBIDDEN']);
  },
  'Query.channels': async () => {
    for (const user of [a.org.admin, a.staff, a.client]) {
      const response = await call('{ channels(first: 100) { edges { node { id } } } }', {}, user);
      expect(response.errors).toBeUndefined();
      mentionsNothingOfB(response);
    }
  },
  'Query.channel': async () => {
    for (const user of [a.org.admin, a.staff, a.client]) {
      for (const id of [b.publicChannelId, b.privateChannelId]) {
        expect((await call('query($id: ID!) { channel(id: $id) { id } }', { id }, user)).data).toEqual({
          channel: null,
        });
      }
    }
    // Within A, a client sees only their own channel.
    const staffOnly = await call('query($id: ID!) { channel(id: $id) { id } }', { id: a.publicChannelId }, a.client);
    expect(staffOnly.data).toEqual({ channel: null });
  },
  'Query.messages': async () => {
    await refusedForAll(
      'query($c: ID!) { messages(channelId: $c) { edges { node { id } } } }',
      { c: b.privateChannelId },
      'NOT_FOUND',
    );
    const privateOfA = await call(
      'query($c: ID!) { messages(channelId: $c) { edges { node { id } } } }',
      { c: a.privateChannelId },
      a.client,
    );
    expect(codes(privateOfA)).toEqual(['NOT_FOUND']);
  },
  'Query.searchMessages': async () => {
    const query = 'query($q: String!, $c: ID) { searchMessages(query: $q, channelId: $c) { edges { node { id } } } }';
    for (const user of [a.org.admin, a.staff, a.client]) {
      const response = await call(query, { q: 'B-secret' }, user);
      expect(response.errors).toBeUndefined();
      mentionsNothingOfB(response);
    }
    await refusedForAll(query, { q: 'B-secret', c: b.privateChannelId }, 'NOT_FOUND');
    // Within A, the staff finds their own private message, and a client nothing of that channel.
    const ofStaff = await call(query, { q: 'B-secret' }, a.staff);
    expect(ofStaff.data).toEqual({ searchMessages: { edges: [{ node: { id: a.messageId } }] } });
    const ofClient = await call(query, { q: 'B-secret' }, a.client);
    expect(ofClient.data).toEqual({ searchMessages: { edges: [] } });
    expect(codes(await call(query, { q: 'B-secret', c: a.privateChannelId }, a.client))).toEqual(['NOT_FOUND']);
  },
  'Query.message': async () => {
    for (const user of [a.org.admin, a.staff, a.client]) {
      expect((await call('query($id: ID!) { message(id: $id) { id } }', { id: b.messageId }, user)).data).toEqual({
        message: null,
      });
    }
  },
  'Mutation.createUser': async () => {
    const input = { email: `new-${Date.now()}@example.test`, displayName: 'New', role: 'USER' };
    const created = await call(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: input },
      a.org.admin,
    );
    const row = await server.app.db.prisma.user.findUniqueOrThrow({
      where: { id: (created.data as { createUser: { id: string } }).createUser.id },
    });
    expect(row.organizationId).toBe(a.org.id);
    for (const user of [a.staff, a.client]) {
      expect(
        codes(await call('mutation($i: CreateUserInput!) { createUser(input: $i) { id } }', { i: input }, user)),
      ).toEqual(['FORBIDDEN']);
    }
  },
  'Mutation.updateUser': async () => {
    const query = 'mutation($i: UpdateUserInput!) { updateUser(input: $i) { id } }';
    const response = await call(query, { i: { id: b.staff.id, displayName: 'Hacked', isActive: false } }, a.org.admin);
    expect(codes(response)).toEqual(['NOT_FOUND']);
    expect(codes(await call(query, { i: { id: a.client.id, displayName: 'Renamed' } }, a.staff))).toEqual([
      'FORBIDDEN',
    ]);
    expect(codes(await call(query, { i: { id: a.staff.id, role: 'ADMIN' } }, a.staff))).toEqual(['FORBIDDEN']);
    const untouched = await server.app.db.prisma.user.findUniqueOrThrow({ where: { id: b.staff.id } });
    expect(untouched).toMatchObject({ displayName: 'Staff', isActive: true });
  },
  'Mutation.updateOrganization': async () => {
    const query = 'mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) { id } }';
    const response = await call(query, { i: { name: a.org.name } }, a.org.admin);
    expect(response.data).toEqual({ updateOrganization: { id: a.org.id } });
    for (const user of [a.staff, a.client])
      expect(codes(await call(query, { i: { name: 'x' } }, user))).toEqual(['FORBIDDEN']);
  },
  'Mutation.createChannel': async () => {
    const query = 'mutation($i: CreateChannelInput!) { createChannel(input: $i) { id } }';
    const response = await call(query, { i: { name: 'cross', memberIds: [b.staff.id] } }, a.staff);
    expect(codes(response)).toEqual(['NOT_FOUND']);
    expect(codes(await call(query, { i: { name: 'client' } }, a.client))).toEqual(['FORBIDDEN']);
  },
  'Mutation.updateChannel': async () => {
    const query = 'mutation($i: UpdateChannelInput!) { updateChannel(input: $i) { id } }';
    for (const user of [a.org.admin, a.staff]) {
      expect(codes(await call(query, { i: { id: b.publicChannelId, name: 'hacked' } }, user))).toEqual(['NOT_FOUND']);
    }
    expect(codes(await call(query, { i: { id: a.clientChannelId, name: 'mine' } }, a.client))).toEqual(['FORBIDDEN']);
  },
  'Mutation.addChannelMembers': async () => {
    const query = 'mutation($i: AddChannelMembersInput!) { addChannelMembers(input: $i) { id } }';
    for (const user of [a.org.admin, a.staff]) {
      expect(codes(await call(query, { i: { channelId: b.publicChannelId, userIds: [a.staff.id] } }, user))).toEqual([
        'NOT_FOUND',
      ]);
      expect(codes(await call(query, { i: { channelId: a.publicChannelId, userIds: [b.staff.id] } }, user))).toEqual([
        'NOT_FOUND',
      ]);
    }
    expect(codes(await call(query, { i: { channelId: a.clientChannelId, userIds: [a.staff.id] } }, a.client))).toEqual([
      'FORBIDDEN',
    ]);
  },
  'Mutation.removeChannelMember': async () => {
    const query = 'mutation($i: RemoveChannelMemberInput!) { removeChannelMember(input: $i) { id } }';
    for (const user of [a.org.admin, a.staff]) {
      expect(codes(await call(query, { i: { channelId: b.publicChannelId, userId: b.staff.id } }, user))).toEqual([
        'NOT_FOUND',
      ]);
    }
    expect(codes(await call(query, { i: { channelId: a.clientChannelId, userId: a.staff.id } }, a.client))).toEqual([
      'FORBIDDEN',
    ]);
  },
  'Mutation.openDirectChannel': async () => {
    const query = 'mutation($u: ID!) { openDirectChannel(userId: $u) { id } }';
    for (const user of [a.org.admin, a.staff])
      expect(codes(await call(query, { u: b.staff.id }, user))).toEqual(['NOT_FOUND']);
    expect(codes(await call(query, { u: a.staff.id }, a.client))).toEqual(['FORBIDDEN']);
  },
  'Mutation.setTyping': async () => {
    await refusedForAll(
      'mutation($i: SetTypingInput!) { setTyping(input: $i) }',
      { i: { channelId: b.publicChannelId, typing: true } },
      'NOT_FOUND',
    );
  },
  'Mutation.sendMessage': async () => {
    await refusedForAll(
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
      { i: { channelId: b.publicChannelId, content: 'cross' } },
      'NOT_FOUND',
    );
    const threadFromB = await call(
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
      { i: { channelId: a.publicChannelId, content: 'x', threadId: b.messageId } },
      a.staff,
    );
    expect(codes(threadFromB)).toEqual(['BAD_USER_INPUT']);
  },
  'Mutation.createUpload': async () => {
    const query = 'mutation($i: CreateUploadInput!) { createUpload(input: $i) { id } }';
    const created = await call(query, { i: { fileName: 'a.txt', mimeType: 'text/plain', size: 5 } }, a.staff);
    const row = await server.app.db.prisma.upload.findUniqueOrThrow({
      where: { id: (created.data as { createUpload: { id: string } }).createUpload.id },
    });
    expect({ organizationId: row.organizationId, uploadedBy: row.uploadedBy }).toEqual({
      organizationId: a.org.id,
      uploadedBy: a.staff.id,
    });
    // B's stored upload, sent from A: as unknown as any id that does not exist.
    const ofB = await server.app.services.uploads.create(b.staff.session.viewer, {
      fileName: 'b.txt',
      mimeType: 'text/plain',
      size: 5,
    });
    await server.app.services.uploads.receive(ofB.id, Readable.from([Buffer.from('hello')]));
    for (const user of [a.org.admin, a.staff]) {
      const response = await call(
        'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
        { i: { channelId: a.publicChannelId, messageType: 'FILE', uploadId: ofB.id } },
        user,
      );
      expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    }
  },
  'Mutation.editMessage': async () => {
    await refusedForAll(
      'mutation($i: EditMessageInput!) { editMessage(input: $i) { id } }',
      { i: { messageId: b.messageId, content: 'hacked' } },
      'NOT_FOUND',
    );
  },
  'Mutation.deleteMessage': async () => {
    await refusedForAll('mutation($m: ID!) { deleteMessage(messageId: $m) { id } }', { m: b.messageId }, 'NOT_FOUND');
    const still = await server.app.services.messages.byId(b.org.id, b.messageId);
    expect(still?.content).toBe('B-secret');
  },
  'Mutation.addReaction': async () => {
    await refusedForAll(
      'mutation($i: ReactionInput!) { addReaction(input: $i) { id } }',
      { i: { messageId: b.messageId, emoji: '👍' } },
      'NOT_FOUND',
    );
  },
  'Mutation.removeReaction': async () => {
    await refusedForAll(
      'mutation($i: ReactionInput!) { removeReaction(input: $i) { id } }',
      { i: { messageId: b.messageId, emoji: '👍' } },
      'NOT_FOUND',
    );
  },
  'Mutation.markMessagesRead': async () => {
    const query = 'mutation($i: MarkMessagesReadInput!) { markMessagesRead(input: $i) { markedMessageIds } }';
    await refusedForAll(query, { i: { channelId: b.privateChannelId } }, 'NOT_FOUND');
    expect(
      codes(await call(query, { i: { channelId: a.publicChannelId, upToMessageId: b.messageId } }, a.staff)),
    ).toEqual(['NOT_FOUND']);
  },
  'Mutation.markMessagesDelivered': async () => {
    await refusedForAll(
      'mutation($i: MarkMessagesDeliveredInput!) { markMessagesDelivered(input: $i) { markedMessageIds } }',
      { i: { messageIds: [b.messageId] } },
      'NOT_FOUND',
    );
  },
  'Query.platformIntegrations': async () => {
    const query = '{ platformIntegrations { id webhookUrl } }';
    const response = await call(query, {}, a.org.admin);
    expect(response.data).toEqual({
      platformIntegrations: expect.arrayContaining([expect.objectContaining({ id: a.integration.id })]),
    });
    mentionsNothingOfB(response);
    await adminOnly(query, {});
  },
  'Query.clientPlatformLinks': async () => {
    const query = 'query($c: ID) { clientPlatformLinks(clientUserId: $c) { id clientUserId platformIntegrationId } }';
    expect((await call(query, { c: b.client.id }, a.org.admin)).data).toEqual({ clientPlatformLinks: [] });
    const all = await call(query, {}, a.org.admin);
    expect(all.data).toEqual({ clientPlatformLinks: [expect.objectContaining({ id: a.linkId })] });
    mentionsNothingOfB(all);
    await adminOnly(query, {});
  },
  'Query.webhookDeliveries': async () => {
    const query =
      'query($i: ID) { webhookDeliveries(platformIntegrationId: $i) { edges { node { id platformIntegrationId } } } }';
    const ofB = await call(query, { i: b.integration.id }, a.org.admin);
    expect(ofB.data).toEqual({ webhookDeliveries: { edges: [] } });
    const all = await call(query, {}, a.org.admin);
    expect(all.data).toEqual({
      webhookDeliveries: {
        edges: expect.arrayContaining([{ node: { id: a.deliveryId, platformIntegrationId: a.integration.id } }]),
      },
    });
    mentionsNothingOfB(all);
    await adminOnly(query, {});
  },
  'Mutation.createPlatformIntegration': async () => {
    const query = 'mutation($i: CreatePlatformIntegrationInput!) { createPlatformIntegration(input: $i) { id } }';
    const input = {
      platform: 'INSTAGRAM',
      integrationName: 'isolation',
      accessToken: 'token-isolation-0123456789',
      appSecret: 'secret-isolation-0123456789',
      verifyToken: 'verify-isolation',
    };
    const created = await call(query, { i: input }, a.org.admin);
    expect(created.errors).toBeUndefined();
    const row = await server.app.db.prisma.platformIntegration.findUniqueOrThrow({
      where: { id: (created.data as { createPlatformIntegration: { id: string } }).createPlatformIntegration.id },
    });
    expect(row.organizationId).toBe(a.org.id);
    await server.app.services.integrations.deactivate(a.org.admin.session, row.id);
    await adminOnly(query, { i: input });
  },
  'Mutation.updatePlatformIntegration': async () => {
    const query = 'mutation($i: UpdatePlatformIntegrationInput!) { updatePlatformIntegration(input: $i) { id } }';
    const hijack = { id: b.integration.id, integrationName: 'hacked', appSecret: 'attacker-secret-0123456789' };
    expect(codes(await call(query, { i: hijack }, a.org.admin))).toEqual(['NOT_FOUND']);
    const untouched = await server.app.services.integrations.forWebhook(b.integration.id, 'WHATSAPP');
    expect(untouched?.appSecret).toBe(b.integration.appSecret);
    await adminOnly(query, { i: { id: a.integration.id, integrationName: 'renamed' } });
  },
  'Mutation.deactivatePlatformIntegration': async () => {
    const query = 'mutation($id: ID!) { deactivatePlatformIntegration(id: $id) { id isActive } }';
    expect(codes(await call(query, { id: b.integration.id }, a.org.admin))).toEqual(['NOT_FOUND']);
    expect(await server.app.services.integrations.forWebhook(b.integration.id, 'WHATSAPP')).not.toBeNull();
    await adminOnly(query, { id: a.integration.id });
  },
  'Mutation.assignClientToChannel': async () => {
    const query = 'mutation($i: AssignClientToChannelInput!) { assignClientToChannel(input: $i) { id } }';
    const assign = (clientUserId: string, channelId: string) =>
      call(query, { i: { clientUserId, channelId } }, a.org.admin);
    expect(codes(await assign(b.client.id, a.clientChannelId))).toEqual(['NOT_FOUND']);
    expect(codes(await assign(a.client.id, b.clientChannelId))).toEqual(['NOT_FOUND']);
    const assignments = await server.app.db.prisma.clientChannelAssignment.findMany({
      where: { clientUserId: { in: [a.client.id, b.client.id] } },
      select: { id: true, channelId: true },
    });
    expect(assignments).toEqual(
      expect.arrayContaining([
        { id: a.assignmentId, channelId: a.clientChannelId },
        { id: b.assignmentId, channelId: b.clientChannelId },
      ]),
    );
    await adminOnly(query, { i: { clientUserId: a.client.id, channelId: a.clientChannelId } });
  },
  'Query.conversations': async () => {
    const query = 'query($a: ID) { conversations(first: 100, assigneeId: $a) { edges { node { channel { id } } } } }';
    // The staff member created A's client channel, so reads it like the admin.
    for (const user of [a.org.admin, a.staff]) {
      const all = await call(query, {}, user);
      expect(all.data).toEqual({ conversations: { edges: [{ node: { channel: { id: a.clientChannelId } } }] } });
      mentionsNothingOfB(all);
    }
    expect((await call(query, { a: b.staff.id }, a.org.admin)).data).toEqual({ conversations: { edges: [] } });
    expect(codes(await call(query, {}, a.client))).toEqual(['FORBIDDEN']);
  },
  'Mutation.setConversationStatus': async () => {
    const query = 'mutation($i: SetConversationStatusInput!) { setConversationStatus(input: $i) { id } }';
    for (const user of [a.org.admin, a.staff])
      expect(codes(await call(query, { i: { channelId: b.clientChannelId, status: 'RESOLVED' } }, user))).toEqual([
        'NOT_FOUND',
      ]);
    expect(codes(await call(query, { i: { channelId: a.clientChannelId, status: 'RESOLVED' } }, a.client))).toEqual([
      'FORBIDDEN',
    ]);
    const untouched = await server.app.db.prisma.channel.findUniqueOrThrow({ where: { id: b.clientChannelId } });
    expect(untouched.conversationStatus).toBe('OPEN');
  },
  'Mutation.assignConversation': async () => {
    const query = 'mutation($i: AssignConversationInput!) { assignConversation(input: $i) { id } }';
    expect(
      codes(await call(query, { i: { channelId: b.clientChannelId, assigneeId: a.org.admin.id } }, a.org.admin)),
    ).toEqual(['NOT_FOUND']);
    expect(
      codes(await call(query, { i: { channelId: a.clientChannelId, assigneeId: b.staff.id } }, a.org.admin)),
    ).toEqual(['NOT_FOUND']);
    expect(codes(await call(query, { i: { channelId: a.clientChannelId, assigneeId: a.staff.id } }, a.client))).toEqual(
      ['FORBIDDEN'],
    );
    const channels = await server.app.db.prisma.channel.findMany({
      where: { id: { in: [a.clientChannelId, b.clientChannelId] } },
      select: { assigneeId: true },
    });
    expect(channels).toEqual([{ assigneeId: null }, { assigneeId: null }]);
  },
  'Query.messageTemplates': async () => {
    const query = 'query($i: ID!) { messageTemplates(integrationId: $i) { name } }';
    for (const user of [a.org.admin, a.staff])
      expect(codes(await call(query, { i: b.integration.id }, user))).toEqual(['NOT_FOUND']);
    expect((await call(query, { i: a.integration.id }, a.staff)).data).toEqual({ messageTemplates: [] });
    expect(codes(await call(query, { i: a.integration.id }, a.client))).toEqual(['FORBIDDEN']);
  },
  'Mutation.syncMessageTemplates': async () => {
    const query = 'mutation($i: ID!) { syncMessageTemplates(integrationId: $i) { name } }';
    expect(codes(await call(query, { i: b.integration.id }, a.org.admin))).toEqual(['NOT_FOUND']);
    await adminOnly(query, { i: a.integration.id });
  },
  'Mutation.sendTemplateMessage': async () => {
    const query = 'mutation($i: SendTemplateMessageInput!) { sendTemplateMessage(input: $i) { id } }';
    const input = (channelId: string) => ({
      i: { channelId, templateName: 'hello', language: 'en_US', parameters: [] },
    });
    for (const user of [a.org.admin, a.staff])
      expect(codes(await call(query, input(b.clientChannelId), user))).toEqual(['NOT_FOUND']);
    expect(codes(await call(query, input(a.clientChannelId), a.client))).toEqual(['FORBIDDEN']);
  },
  'Mutation.createClientPlatformLink': async () => {
    const query =
      'mutation($i: CreateClientPlatformLinkInput!) { createClientPlatformLink(input: $i) { id verificationCode } }';
    const link = (clientUserId: string, platformIntegrationId: string) =>
      call(query, { i: { clientUserId, platformIntegrationId } }, a.org.admin);
    expect(codes(await link(b.client.id, a.integration.id))).toEqual(['NOT_FOUND']);
    expect(codes(await link(a.client.id, b.integration.id))).toEqual(['NOT_FOUND']);
    expect(
      await server.app.db.prisma.clientPlatformLink.count({
        where: { platformIntegrationId: b.integration.id },
      }),
    ).toBe(1);
    await adminOnly(query, { i: { clientUserId: a.client.id, platformIntegrationId: a.integration.id } });
  },
  'Mutation.replayWebhookDelivery': async () => {
    const query = 'mutation($id: ID!) { replayWebhookDelivery(id: $id) { id status } }';
    expect(codes(await call(query, { id: b.deliveryId }, a.org.admin))).toEqual(['NOT_FOUND']);
    const untouched = await server.app.db.prisma.webhookDelivery.findUniqueOrThrow({
      where: { id: b.deliveryId },
    });
    expect(untouched.attempts).toBe(1);
    await adminOnly(query, { id: a.deliveryId });
  },
  'Subscription.messageEvents': async () => {
    for (const user of [a.org.admin, a.staff, a.client]) {
      const result = await firstSubscriptionResult(
        server.wsUrl,
        'subscription($c: ID!) { messageEvents(channelId: $c) { kind } }',
        { c: b.publicChannelId },
        user.token,
      );
      expect(JSON.stringify(result)).toContain('NOT_FOUND');
    }
  },
  'Subscription.reactionEvents': async () => {
    const result = await firstSubscriptionResult(
      server.wsUrl,
      'subscription($c: ID!) { reactionEvents(channelId: $c) { kind } }',
      { c: b.publicChannelId },
      a.org.admin.token,
    );
    expect(JSON.stringify(result)).toContain('NOT_FOUND');
  },
  'Subscription.messageStatusEvents': async () => {
    const result = await firstSubscriptionResult(
      server.wsUrl,
      'subscription($c: ID!) { messageStatusEvents(channelId: $c) { status } }',
      { c: b.publicChannelId },
      a.org.admin.token,
    );
    expect(JSON.stringify(result)).toContain('NOT_FOUND');
  },
  'Subscription.typingEvents': async () => {
    const result = await firstSubscriptionResult(
      server.wsUrl,
      'subscription($c: ID!) { typingEvents(channelId: $c) { typing } }',
      { c: b.publicChannelId },
      a.org.admin.token,
    );
    expect(JSON.stringify(result)).toContain('NOT_FOUND');
  },
  'Subscription.viewerEvents': async () => {
    // B keeps talking in its public channel while A's admin listens: nothing arrives.
    const talking = repeatUntilStopped(() => send(server, b.staff, b.publicChannelId, 'B chatter'), 50);
    try {
      const result = await firstSubscriptionResult(
        server.wsUrl,
        'subscription { viewerEvents { __typename } }',
        {},
        a.org.admin.token,
        1_500,
      );
      expect(result).toBe('no event');
    } finally {
      await talking.stop();
    }
  },
};

beforeAll(async () => {
  server = await startServer();
  a = await world();
  b = await world();
});
afterAll(() => server.stop());

describe('isolation between organizations and roles', () => {
  it('has a case for every operation of the schema', () => {
    const operations = (['Query', 'Mutation', 'Subscription'] as const).flatMap((root) => {
      const type =
        root === 'Query'
          ? schema.getQueryType()
          : root === 'Mutation'
            ? schema.getMutationType()
            : schema.getSubscriptionType();
      return Object.keys(type?.getFields() ?? {}).map((field) => `${root}.${field}`);
    });
    expect(Object.keys(cases).sort()).toEqual(operations.sort());
  });

  it.each(Object.keys(cases))('%s', async (operation) => {
    await cases[operation]!();
  });
});

describe('isolation of webhooks between organizations', () => {
  it("refuses a delivery to B's integration signed with A's app secret with 401, and stores nothing", async () => {
    const body = fixtureText('wa_inbound_text.json').replaceAll('1122334455667', b.integration.platformAccountId!);
    const response = await post(server, { ...b.integration, appSecret: a.integration.appSecret }, body);
    expect(response.status).toBe(401);
    expect(
      await server.app.db.prisma.webhookDelivery.findMany({
        where: { platformIntegrationId: b.integration.id },
        select: { id: true },
      }),
    ).toEqual([{ id: b.deliveryId }]);
  });

  it("never routes a delivery to A's URL into B, even when it names B's phone number id and B's customer", async () => {
    const link = await server.app.db.prisma.clientPlatformLink.findUniqueOrThrow({
      where: { id: b.linkId },
    });
    const body = fixtureText('wa_inbound_text.json')
      .replaceAll('1122334455667', b.integration.platformAccountId!)
      .replaceAll('972987654321', link.platformUserId!)
      .replaceAll('Body Text', 'meant for B');
    expect((await post(server, a.integration, body)).status).toBe(200);
    const delivery = await processed(server, a.integration, body);
    expect(delivery).toMatchObject({
      organizationId: a.org.id,
      status: 'FAILED',
      errors: [
        expect.objectContaining({
          kind: 'unroutable',
          reason: expect.stringContaining('belongs to no active integration of this organization'),
        }),
      ],
    });
    expect(await server.app.db.prisma.message.count({ where: { content: 'meant for B' } })).toBe(0);
  });
});
