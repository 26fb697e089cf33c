import { beforeAll, describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import { GUESS_WINDOW_MS, MAX_FAILED_GUESSES } from '../../src/modules/client-links/guess-budgets.js';
import type { PlatformSender } from '../../src/modules/client-links/links.service.js';
import { graphql } from '../gql/index.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import {
  createChannel,
  createIntegration,
  linkClient,
  randomPhone,
  type TestIntegration,
} from '../support/platform.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';

const AssignClient = graphql(`
  mutation AssignClient($input: AssignClientToChannelInput!) {
    assignClientToChannel(input: $input) {
      id
      clientUserId
      channelId
      client {
        id
        role
      }
      assignedBy {
        id
      }
      isActive
    }
  }
`);

const CreateLink = graphql(`
  mutation CreateLink($input: CreateClientPlatformLinkInput!) {
    createClientPlatformLink(input: $input) {
      id
      clientUserId
      platformIntegrationId
      platformUserId
      verificationCode
      verificationStatus
      verifiedAt
      codeExpiresAt
      integration {
        id
        platform
      }
    }
  }
`);

const Links = graphql(`
  query Links($clientUserId: ID) {
    clientPlatformLinks(clientUserId: $clientUserId) {
      id
      clientUserId
      platformUserId
      platformScopedUserId
      verificationCode
      verificationStatus
      verifiedAt
    }
  }
`);

const { server, org } = useFixture({
  organization: { users: ['Sam'], clients: ['Cora', 'Cleo', 'Carl', 'Cara', 'Cody', 'Cyd'] },
});
let other: TestOrganization;
let whatsApp: TestIntegration;

beforeAll(async () => {
  other = await seedOrganization(server(), { clients: ['Olga'] });
  whatsApp = await createIntegration(server(), org(), 'WHATSAPP');
});

const prisma = () => server().app.db.prisma;
const membershipsOf = (userId: string) =>
  prisma().channelMember.findMany({ where: { userId }, select: { channelId: true } });

describe('assignClientToChannel', () => {
  it('assigns a client and makes them a member of the channel', async () => {
    const channel = await createChannel(server(), org());
    const cora = org().clients.Cora!;
    const assigned = dataOf(
      await gql(
        server().graphqlUrl,
        AssignClient,
        { input: { clientUserId: cora.id, channelId: channel.id } },
        { token: org().admin.token },
      ),
    ).assignClientToChannel;
    expect(assigned).toMatchObject({
      clientUserId: cora.id,
      channelId: channel.id,
      client: { id: cora.id, role: 'CLIENT' },
      assignedBy: { id: org().admin.id },
      isActive: true,
    });
    expect(await membershipsOf(cora.id)).toEqual([{ channelId: channel.id }]);
  });

  it('reassigning replaces the channel and moves the membership', async () => {
    const [first, second] = [await createChannel(server(), org()), await createChannel(server(), org())];
    const cleo = org().clients.Cleo!;
    for (const channel of [first, second]) {
      await gql(
        server().graphqlUrl,
        AssignClient,
        { input: { clientUserId: cleo.id, channelId: channel.id } },
        { token: org().admin.token },
      );
    }
    const assignments = await prisma().clientChannelAssignment.findMany({ where: { clientUserId: cleo.id } });
    expect(assignments.map((assignment) => assignment.channelId)).toEqual([second.id]);
    expect(await membershipsOf(cleo.id)).toEqual([{ channelId: second.id }]);
  });

  it('leaves exactly one channel when reassignments race', async () => {
    const channels = await Promise.all([1, 2, 3, 4].map(() => createChannel(server(), org())));
    const carl = org().clients.Carl!;
    const results = await Promise.all(
      channels.map((channel) =>
        gql(
          server().graphqlUrl,
          AssignClient,
          { input: { clientUserId: carl.id, channelId: channel.id } },
          { token: org().admin.token },
        ),
      ),
    );
    results.forEach((result) => expect(result.errors).toBeUndefined());
    const [assignment] = await prisma().clientChannelAssignment.findMany({ where: { clientUserId: carl.id } });
    expect(await membershipsOf(carl.id)).toEqual([{ channelId: assignment!.channelId }]);
  });

  it('refuses staff users, direct channels, foreign ids and non-admins', async () => {
    const channel = await createChannel(server(), org());
    const direct = await createChannel(server(), org(), undefined, 'DIRECT');
    const foreignChannel = await createChannel(server(), other);
    const assign = (clientUserId: string, channelId: string, token = org().admin.token) =>
      gql(server().graphqlUrl, AssignClient, { input: { clientUserId, channelId } }, { token });

    const staff = await assign(org().users.Sam!.id, channel.id);
    expect(staff.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.clientUserId' });
    const toDirect = await assign(org().clients.Cara!.id, direct.id);
    expect(toDirect.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.channelId' });
    expect(errorCodes(await assign(org().clients.Cara!.id, foreignChannel.id))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await assign(other.clients.Olga!.id, channel.id))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await assign(org().clients.Cara!.id, channel.id, org().users.Sam!.token))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await assign(org().clients.Cara!.id, channel.id, org().clients.Cara!.token))).toEqual([
      'FORBIDDEN',
    ]);
    const malformed = await assign('not-a-uuid', channel.id);
    expect(malformed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.clientUserId' });
  });
});

describe('createClientPlatformLink and clientPlatformLinks', () => {
  it('issues a pending code that expires in a day; issuing again replaces it', async () => {
    const cody = org().clients.Cody!;
    const input = { clientUserId: cody.id, platformIntegrationId: whatsApp.id, platformUserId: '+972 (98) 765-4321' };
    const first = dataOf(
      await gql(server().graphqlUrl, CreateLink, { input }, { token: org().admin.token }),
    ).createClientPlatformLink;
    expect(first).toMatchObject({
      clientUserId: cody.id,
      platformIntegrationId: whatsApp.id,
      platformUserId: '972987654321',
      verificationStatus: 'PENDING',
      verifiedAt: null,
      integration: { id: whatsApp.id, platform: 'WHATSAPP' },
    });
    expect(first.verificationCode).toMatch(/^[2-9A-HJKMNP-Z]{8}$/);
    const expiresIn = new Date(first.codeExpiresAt!).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(23.9 * 3600_000);
    expect(expiresIn).toBeLessThanOrEqual(24 * 3600_000);

    const second = dataOf(
      await gql(server().graphqlUrl, CreateLink, { input }, { token: org().admin.token }),
    ).createClientPlatformLink;
    expect(second.id).toBe(first.id);
    expect(second.verificationCode).not.toBe(first.verificationCode);

    const listed = dataOf(
      await gql(server().graphqlUrl, Links, { clientUserId: cody.id }, { token: org().admin.token }),
    );
    expect(listed.clientPlatformLinks).toEqual([
      expect.objectContaining({
        id: first.id,
        verificationCode: second.verificationCode,
        verificationStatus: 'PENDING',
      }),
    ]);
    // The old code no longer verifies anything; the new one does, once.
    const sender = { platformUserId: '972987654321', scopedUserId: null };
    const { clientLinks } = server().app.services;
    expect(await clientLinks.verify(whatsApp, sender, first.verificationCode!)).toEqual({
      status: 'refused',
      reason: 'unknown-code',
    });
    expect(await clientLinks.verify(whatsApp, sender, second.verificationCode!)).toEqual({
      status: 'verified',
      linkId: first.id,
      clientUserId: cody.id,
    });

    const again = await gql(server().graphqlUrl, CreateLink, { input }, { token: org().admin.token });
    expect(errorCodes(again)).toEqual(['CONFLICT']);
  });

  it('refuses a platform user already linked to another client, non-clients and foreign ids', async () => {
    const phone = randomPhone();
    await linkClient(server(), org(), org().clients.Cara!, whatsApp, { platformUserId: phone, scopedUserId: null });
    const create = (
      input: { clientUserId: string; platformIntegrationId: string; platformUserId?: string },
      token = org().admin.token,
    ) => gql(server().graphqlUrl, CreateLink, { input }, { token });
    expect(
      errorCodes(
        await create({
          clientUserId: org().clients.Cyd!.id,
          platformIntegrationId: whatsApp.id,
          platformUserId: `+${phone}`,
        }),
      ),
    ).toEqual(['CONFLICT']);
    const staff = await create({ clientUserId: org().users.Sam!.id, platformIntegrationId: whatsApp.id });
    expect(staff.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.clientUserId' });
    expect(
      errorCodes(await create({ clientUserId: other.clients.Olga!.id, platformIntegrationId: whatsApp.id })),
    ).toEqual(['NOT_FOUND']);
    const foreignIntegration = await createIntegration(server(), other, 'INSTAGRAM');
    expect(
      errorCodes(await create({ clientUserId: org().clients.Cyd!.id, platformIntegrationId: foreignIntegration.id })),
    ).toEqual(['NOT_FOUND']);
    expect(
      errorCodes(
        await create(
          { clientUserId: org().clients.Cyd!.id, platformIntegrationId: whatsApp.id },
          org().users.Sam!.token,
        ),
      ),
    ).toEqual(['FORBIDDEN']);
    expect(errorCodes(await gql(server().graphqlUrl, Links, {}, { token: org().users.Sam!.token }))).toEqual([
      'FORBIDDEN',
    ]);
    const otherLinks = dataOf(
      await gql(server().graphqlUrl, Links, {}, { token: other.admin.token }),
    ).clientPlatformLinks;
    expect(otherLinks).toEqual([]);
  });
});

describe('verification', () => {
  const issue = async (clientName: string, integration: TestIntegration, platformUserId?: string) => {
    const client = org().clients[clientName]!;
    await prisma().clientPlatformLink.deleteMany({
      where: { clientUserId: client.id, platformIntegrationId: integration.id },
    });
    return server().app.services.clientLinks.create(org().admin.session, {
      clientUserId: client.id,
      platformIntegrationId: integration.id,
      platformUserId,
    });
  };
  const verify = (integration: TestIntegration, sender: PlatformSender, text: string) =>
    server().app.services.clientLinks.verify(integration, sender, text);

  it("records the sender's ids and the time; the code is single-use", async () => {
    const integration = await createIntegration(server(), org(), 'WHATSAPP');
    const link = await issue('Cyd', integration);
    const sender = { platformUserId: randomPhone(), scopedUserId: `US.${Date.now()}` };
    expect(await verify(integration, sender, `hello ${link.verificationCode!.toLowerCase()}!`)).toMatchObject({
      status: 'verified',
    });
    const stored = await prisma().clientPlatformLink.findUniqueOrThrow({ where: { id: link.id } });
    expect(stored).toMatchObject({
      verificationStatus: 'VERIFIED',
      platformUserId: sender.platformUserId,
      platformScopedUserId: sender.scopedUserId,
      verificationCode: link.verificationCode,
    });
    expect(Date.now() - stored.verifiedAt!.getTime()).toBeLessThan(10_000);
    const someoneElse = { platformUserId: randomPhone(), scopedUserId: null };
    expect(await verify(integration, someoneElse, link.verificationCode!)).toEqual({
      status: 'refused',
      reason: 'unknown-code',
    });
  });

  it('accepts a business-scoped id alone, and only from the platform user the admin named', async () => {
    const integration = await createIntegration(server(), org(), 'WHATSAPP');
    const named = randomPhone();
    const link = await issue('Cyd', integration, named);
    expect(
      await verify(integration, { platformUserId: randomPhone(), scopedUserId: null }, link.verificationCode!),
    ).toEqual({
      status: 'refused',
      reason: 'sender-mismatch',
    });
    expect(
      await verify(integration, { platformUserId: named, scopedUserId: null }, link.verificationCode!),
    ).toMatchObject({ status: 'verified' });

    const bsuidOnly = await createIntegration(server(), org(), 'WHATSAPP');
    const second = await issue('Cyd', bsuidOnly);
    const scoped = { platformUserId: null, scopedUserId: `US.${Date.now()}9` };
    expect(await verify(bsuidOnly, scoped, second.verificationCode!)).toMatchObject({ status: 'verified' });
    expect(await server().app.services.clientLinks.findVerified(bsuidOnly.id, scoped)).toMatchObject({ id: second.id });
  });

  it('refuses an expired code, and text without a code is no attempt at all', async () => {
    const integration = await createIntegration(server(), org(), 'INSTAGRAM');
    const link = await issue('Cyd', integration);
    await prisma().clientPlatformLink.update({
      where: { id: link.id },
      data: { codeExpiresAt: new Date(Date.now() - 1000) },
    });
    const sender = { platformUserId: `ig-${Date.now()}`, scopedUserId: null };
    expect(await verify(integration, sender, link.verificationCode!)).toEqual({ status: 'refused', reason: 'expired' });
    expect(await verify(integration, sender, 'hello there, STRENGTH')).toEqual({ status: 'no-code' });
  });

  it(`refuses even the right code after ${MAX_FAILED_GUESSES} bad guesses, until the window passes`, async () => {
    const integration = await createIntegration(server(), org(), 'WHATSAPP');
    const link = await issue('Cyd', integration);
    const guesser = { platformUserId: randomPhone(), scopedUserId: null };
    for (let guess = 0; guess < MAX_FAILED_GUESSES; guess += 1) {
      expect(await verify(integration, guesser, `ZZZZZZZ${guess + 2}`)).toEqual({
        status: 'refused',
        reason: 'unknown-code',
      });
    }
    expect(await verify(integration, guesser, link.verificationCode!)).toEqual({
      status: 'refused',
      reason: 'rate-limited',
    });
    // Guesses are counted per sender: someone else is unaffected.
    expect(await verify(integration, { platformUserId: randomPhone(), scopedUserId: null }, 'ZZZZZZZ9')).toEqual({
      status: 'refused',
      reason: 'unknown-code',
    });
    // A later window starts afresh.
    await prisma().linkVerificationAttempt.update({
      where: {
        platformIntegrationId_sender: { platformIntegrationId: integration.id, sender: guesser.platformUserId },
      },
      data: { windowStartedAt: new Date(Date.now() - GUESS_WINDOW_MS - 1000) },
    });
    expect(await verify(integration, guesser, link.verificationCode!)).toMatchObject({ status: 'verified' });
  });

  it('concurrent guesses never exceed the limit', async () => {
    const integration = await createIntegration(server(), org(), 'WHATSAPP');
    const guesser = { platformUserId: randomPhone(), scopedUserId: null };
    const outcomes = await Promise.all(
      Array.from({ length: MAX_FAILED_GUESSES * 2 }, (_, i) => verify(integration, guesser, `YYYYYYY${(i % 8) + 2}`)),
    );
    const counted = outcomes.filter((outcome) => outcome.status === 'refused' && outcome.reason === 'unknown-code');
    expect(counted).toHaveLength(MAX_FAILED_GUESSES);
  });

  it('records inbound activity without moving it back, and learns a scoped id', async () => {
    const integration = await createIntegration(server(), org(), 'WHATSAPP');
    const link = await linkClient(server(), org(), org().clients.Cyd!, integration, {
      platformUserId: randomPhone(),
      scopedUserId: null,
    });
    const { clientLinks } = server().app.services;
    const later = new Date('2030-01-02T00:00:00Z');
    await clientLinks.recordInbound([{ linkId: link.id, at: later, scopedUserId: `US.${Date.now()}7` }]);
    await clientLinks.recordInbound([{ linkId: link.id, at: new Date('2030-01-01T00:00:00Z'), scopedUserId: null }]);
    const stored = await prisma().clientPlatformLink.findUniqueOrThrow({ where: { id: link.id } });
    expect(stored.lastInboundAt).toEqual(later);
    expect(stored.platformScopedUserId).toMatch(/^US\./);
  });
});
