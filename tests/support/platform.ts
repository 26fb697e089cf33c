import { randomBytes } from 'node:crypto';
import type { ChannelType, Platform } from '../../src/generated/prisma/enums.js';
import type { CreateIntegrationInput } from '../../src/modules/integrations/integrations.service.js';
import type { PlatformSender } from '../../src/modules/client-links/links.service.js';
import type { TestOrganization, TestUser } from './seed.js';
import type { TestServer } from './server.js';

export interface TestIntegration {
  id: string;
  organizationId: string;
  platform: Platform;
  platformAccountId: string | null;
  accessToken: string;
  appSecret: string;
  verifyToken: string;
}

/** An integration of the organization, created through the service, with its secrets in the clear for the test. */
export async function createIntegration(
  server: TestServer,
  org: TestOrganization,
  platform: Platform,
  overrides: Partial<CreateIntegrationInput> = {},
): Promise<TestIntegration> {
  const input: CreateIntegrationInput = {
    platform,
    integrationName: `${platform.toLowerCase()} ${randomBytes(3).toString('hex')}`,
    accessToken: `token-${randomBytes(12).toString('hex')}`,
    appSecret: `secret-${randomBytes(12).toString('hex')}`,
    verifyToken: `verify-${randomBytes(6).toString('hex')}`,
    ...overrides,
  };
  const row = await server.app.services.integrations.create(org.admin.session, input);
  return {
    id: row.id,
    organizationId: row.organizationId,
    platform: row.platform,
    platformAccountId: row.platformAccountId,
    accessToken: input.accessToken,
    appSecret: input.appSecret,
    verifyToken: input.verifyToken,
  };
}

/** A channel written directly (the channels module is not part of these tests). */
export async function createChannel(
  server: TestServer,
  org: TestOrganization,
  name = `channel-${randomBytes(3).toString('hex')}`,
  channelType: ChannelType = 'PUBLIC',
) {
  return server.app.db.prisma.channel.create({
    data: { organizationId: org.id, name, channelType, createdBy: org.admin.id },
  });
}

/** A verified link: issued by the admin, then verified by the client "sending" its code. */
export async function linkClient(
  server: TestServer,
  org: TestOrganization,
  client: TestUser,
  integration: TestIntegration,
  sender: PlatformSender,
) {
  const { clientLinks } = server.app.services;
  const link = await clientLinks.create(org.admin.session, {
    clientUserId: client.id,
    platformIntegrationId: integration.id,
  });
  const outcome = await clientLinks.verify(integration, sender, `my code: ${link.verificationCode}`);
  if (outcome.status !== 'verified') throw new Error(`link was not verified: ${JSON.stringify(outcome)}`);
  return server.app.db.prisma.clientPlatformLink.findUniqueOrThrow({ where: { id: link.id } });
}

/** A client in a channel with a verified link: the route every inbound message and outbound reply takes. */
export async function routedClient(
  server: TestServer,
  org: TestOrganization,
  client: TestUser,
  integration: TestIntegration,
  sender: PlatformSender,
) {
  const channel = await createChannel(server, org);
  await server.app.services.clientAssignments.assign(org.admin.session, {
    clientUserId: client.id,
    channelId: channel.id,
  });
  const link = await linkClient(server, org, client, integration, sender);
  return { channel, link };
}

/** A random WhatsApp number (digits only, as wa_id is). */
export const randomPhone = () => `9725${randomBytes(4).readUInt32BE(0).toString().padStart(10, '0').slice(0, 8)}`;
