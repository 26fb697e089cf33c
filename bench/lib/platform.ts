import { createHmac, randomBytes } from 'node:crypto';
import { Session } from '../../src/auth/session.js';
import { signUserToken } from '../../src/auth/tokens.js';
import { postJson } from './graphql-client.js';
import { type BenchDatabase, seedBenchOrganization } from './setup.js';

export interface BenchCustomer {
  phone: string;
  clientUserId: string;
  channelId: string;
}

export interface BenchPlatform {
  organizationId: string;
  integrationId: string;
  appSecret: string;
  phoneNumberId: string;
  customers: BenchCustomer[];
  adminToken: string;
  staffTokens: string[];
  staffChannelIds: string[];
}

/**
 * An organization with a WhatsApp integration and `customers` clients, each linked to a phone number and
 * assigned to a channel of its own, plus staff channels: what webhook traffic is routed through.
 */
export async function seedBenchPlatform(bench: BenchDatabase, customers: number, staff = 8): Promise<BenchPlatform> {
  const seeded = await seedBenchOrganization(bench, staff);
  const { services } = bench;
  const adminSession = seeded.users[0]!.session;
  const admin = Session.authenticated({ id: seeded.admin.id, organizationId: seeded.organizationId, role: 'ADMIN' });
  const appSecret = `secret-${randomBytes(8).toString('hex')}`;
  const phoneNumberId = `${Date.now()}`;
  const integration = await services.integrations.create(admin, {
    platform: 'WHATSAPP',
    integrationName: 'bench',
    accessToken: 'bench-token',
    appSecret,
    verifyToken: 'bench-verify',
    platformAccountId: phoneNumberId,
  });
  const result: BenchCustomer[] = [];
  for (let index = 0; index < customers; index++) {
    const client = await services.users.create(admin, {
      email: `customer-${index}-${randomBytes(3).toString('hex')}@bench.test`,
      displayName: `Customer ${index}`,
      role: 'CLIENT',
    });
    const channel = await services.channels.create(adminSession, {
      name: `support ${index}`,
      channelType: 'PRIVATE',
      memberIds: seeded.users.map((user) => user.id),
    });
    await services.clientAssignments.assign(admin, { clientUserId: client.id, channelId: channel.id });
    const link = await services.clientLinks.create(admin, {
      clientUserId: client.id,
      platformIntegrationId: integration.id,
    });
    const phone = `4915${String(10_000_000 + index)}`;
    await services.clientLinks.verify(
      { id: integration.id, organizationId: seeded.organizationId, platform: 'WHATSAPP' },
      { platformUserId: phone, scopedUserId: null },
      `code ${link.verificationCode}`,
    );
    // The code came in a customer's message, which (as on the webhook route) opens the 24-hour window.
    await services.clientLinks.recordInbound([{ linkId: link.id, at: new Date(), scopedUserId: null }]);
    result.push({ phone, clientUserId: client.id, channelId: channel.id });
  }
  return {
    organizationId: seeded.organizationId,
    integrationId: integration.id,
    appSecret,
    phoneNumberId,
    customers: result,
    adminToken: await signUserToken(bench.config.jwt, seeded.admin.id, '2h'),
    staffTokens: seeded.users.map((user) => user.token),
    staffChannelIds: [seeded.channelId],
  };
}

/** One inbound WhatsApp text as Meta delivers it, with the wamid the test will look for. */
export function whatsAppDelivery(
  platform: BenchPlatform,
  customer: BenchCustomer,
  wamid: string,
  text: string,
): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'bench-waba',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000000', phone_number_id: platform.phoneNumberId },
              contacts: [{ profile: { name: 'Bench customer' }, wa_id: customer.phone }],
              messages: [
                {
                  from: customer.phone,
                  id: wamid,
                  timestamp: String(Math.floor(Date.now() / 1000)),
                  type: 'text',
                  text: { body: text },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

/** POSTs a signed delivery; resolves with the HTTP status. */
export async function postDelivery(url: string, appSecret: string, body: string): Promise<number> {
  const signature = `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
  return (await postJson(url, body, { 'x-hub-signature-256': signature })).status;
}
