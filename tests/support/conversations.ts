import { createHash, randomBytes } from 'node:crypto';
import type { Platform } from '../../src/generated/prisma/enums.js';
import { fixtureText } from './fixtures.js';
import { createIntegration, linkClient, randomPhone, type TestIntegration } from './platform.js';
import { addUser, type TestOrganization, type TestUser } from './seed.js';
import type { TestServer } from './server.js';
import { postWebhook, waitFor } from './webhooks.js';

// A customer talking to the organization through Meta, set up as an admin would (integration, client user,
// channel, assignment, verified link), and Meta's fixtures re-addressed to that customer. Each test opens its
// own conversation: a fresh integration (so the fixtures' message ids are new to it) and a fresh channel (so
// the channel's rows and events are the test's own).

export interface Conversation {
  integration: TestIntegration;
  client: TestUser;
  /** The channel the client is (or, with `assigned: false`, will be) assigned to. */
  channelId: string;
  linkId: string | null;
  /** WhatsApp: the customer's wa_id (null for a user known only by business-scoped id). Instagram: their IGSID. */
  platformUserId: string | null;
  /** WhatsApp's business-scoped user id (`US.…`), which Meta sends along with the number. */
  scopedUserId: string | null;
  /** The business account the fixtures are addressed to: WhatsApp's phone_number_id, the Instagram account id. */
  businessAccountId: string;
}

const digits = (count: number) =>
  Array.from(randomBytes(count), (byte) => String(byte % 10))
    .join('')
    .replace(/^0/, '1');

export interface ConversationOptions {
  /** A WhatsApp customer known only by business-scoped id (no visible number). */
  scopedOnly?: boolean;
  /** false: the admin has not linked the customer to the client yet (their deliveries are unroutable). */
  linked?: boolean;
  /** false: the client is in no channel yet. */
  assigned?: boolean;
  /** An integration to share with other conversations (default: a new one). */
  integration?: TestIntegration;
}

export async function openConversation(
  server: TestServer,
  org: TestOrganization,
  platform: Platform,
  options: ConversationOptions = {},
): Promise<Conversation> {
  // WhatsApp sends need the phone number id; Instagram sends go to "me", the account of the access token.
  const integration =
    options.integration ??
    (await createIntegration(server, org, platform, {
      platformAccountId: platform === 'WHATSAPP' ? digits(13) : null,
    }));
  const businessAccountId = integration.platformAccountId ?? digits(13);
  const client = await addUser(server, org, `Customer ${digits(4)}`, 'CLIENT');
  const channel = await server.app.services.channels.create(org.admin.session, {
    name: `conversation-${randomBytes(3).toString('hex')}`,
    channelType: 'PRIVATE',
  });
  if (options.assigned !== false) {
    await server.app.services.clientAssignments.assign(org.admin.session, {
      clientUserId: client.id,
      channelId: channel.id,
    });
  }
  const platformUserId = platform === 'WHATSAPP' ? (options.scopedOnly ? null : randomPhone()) : `${digits(16)}`;
  const scopedUserId = platform === 'WHATSAPP' ? `US.${digits(20)}` : null;
  // The link knows the customer as the admin's code verification saw them: WhatsApp by number when there is
  // one (the business-scoped id is learnt from their first message), else by business-scoped id.
  const link =
    options.linked === false
      ? null
      : await linkClient(server, org, client, integration, {
          platformUserId,
          scopedUserId: platformUserId ? null : scopedUserId,
        });
  return {
    integration,
    client,
    channelId: channel.id,
    linkId: link?.id ?? null,
    platformUserId,
    scopedUserId,
    businessAccountId,
  };
}

export interface DeliveryEdits {
  /** Meta's time for every item (default: as in the fixture). */
  at?: Date;
  /** Further exact replacements in the fixture's text, e.g. a message id. */
  replace?: Record<string, string>;
}

/** A WhatsApp fixture from the conversation's customer to its phone number id; the rest as Meta sent it. */
export function whatsAppDelivery(fixture: string, conversation: Conversation, edits: DeliveryEdits = {}): string {
  let text = fixtureText(fixture);
  const replacements: Record<string, string> = {
    '972987654321': conversation.platformUserId ?? 'no-number',
    'US.13491208655302741918': conversation.scopedUserId ?? 'no-scoped-id',
    '1122334455667': conversation.businessAccountId,
    ...edits.replace,
  };
  for (const [from, to] of Object.entries(replacements)) text = text.replaceAll(from, to);
  // Unix seconds as strings; `"timestamp"` does not match `"expiration_timestamp"`.
  if (edits.at) text = text.replace(/"timestamp": "\d+"/g, `"timestamp": "${Math.floor(edits.at.getTime() / 1000)}"`);
  return text;
}

/** An Instagram fixture between the conversation's customer and its account; placeholders filled in. */
export function instagramDelivery(
  fixture: string,
  conversation: Conversation,
  values: { mid?: string; text?: string; url?: string; at?: Date; replace?: Record<string, string> } = {},
): string {
  let text = fixtureText(fixture);
  const customer = conversation.platformUserId!;
  const business = conversation.businessAccountId;
  const mid = values.mid ?? `mid.${randomBytes(8).toString('hex')}`;
  const replacements: Record<string, string> = {
    // The customer, as each fixture's source names them (the echo's customer is its recipient).
    '<INSTAGRAM_SCOPED_ID>': customer,
    '{SENDER_ID}': customer,
    balconycarspotting: customer,
    '430915413000664': customer,
    // The business account.
    '<YOUR_APP_USERS_INSTAGRAM_USER_ID>': business,
    '{PAGE_ID}': business,
    '<IGID>': business,
    'i.rate.1': business,
    '17841470026191358': business,
    '<MESSAGE_ID>': mid,
    '{MESSAGE_ID}': mid,
    '<MESSAGE_TEXT>': values.text ?? 'Hello from Instagram',
    '<URL_FOR_THE_MEDIA>': values.url ?? 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1',
    ...values.replace,
  };
  for (const [from, to] of Object.entries(replacements)) text = text.replaceAll(from, to);
  // Integer milliseconds.
  if (values.at) text = text.replace(/"timestamp": \d+/g, `"timestamp": ${values.at.getTime()}`);
  return text;
}

export const webhookUrl = (server: TestServer, integration: { id: string; platform: string }) =>
  `${server.url}/webhooks/${integration.platform.toLowerCase()}/${integration.id}`;

/** POSTs a body signed with the integration's app secret, as Meta does; resolves with the HTTP answer. */
export const post = (server: TestServer, integration: TestIntegration, body: string) =>
  postWebhook(webhookUrl(server, integration), body, { secret: integration.appSecret });

/** The stored delivery of exactly these bytes, once it has been processed (PROCESSED or FAILED). */
export function processed(server: TestServer, integration: TestIntegration, body: string) {
  const bodySha256 = createHash('sha256').update(body).digest('hex');
  return waitFor(
    async () => {
      const row = await server.app.db.prisma.webhookDelivery.findUnique({
        where: { platformIntegrationId_bodySha256: { platformIntegrationId: integration.id, bodySha256 } },
      });
      return row && row.status !== 'RECEIVED' ? row : null;
    },
    10_000,
    'the delivery to be processed',
  );
}

/** Delivers a body as Meta does (signed, answered 200) and waits until it has been processed. */
export async function deliver(server: TestServer, integration: TestIntegration, body: string) {
  const response = await post(server, integration, body);
  if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${response.text}`);
  return processed(server, integration, body);
}

/** The channel's messages as stored, oldest first. */
export const channelMessages = (server: TestServer, channelId: string) =>
  server.app.db.prisma.message.findMany({ where: { channelId }, orderBy: { createdSeq: 'asc' } });

/**
 * The customer writes a text (now, unless told otherwise), which also opens or extends the customer-service
 * window; resolves with the stored message once the delivery has been processed.
 */
export async function customerWrites(
  server: TestServer,
  conversation: Conversation,
  options: { text?: string; at?: Date } = {},
) {
  const text = options.text ?? `hello ${randomBytes(3).toString('hex')}`;
  const at = options.at ?? new Date();
  const externalMessageId =
    conversation.integration.platform === 'WHATSAPP'
      ? `wamid.in-${randomBytes(8).toString('hex')}`
      : `mid.in-${randomBytes(8).toString('hex')}`;
  const body =
    conversation.integration.platform === 'WHATSAPP'
      ? whatsAppDelivery('wa_inbound_text.json', conversation, {
          at,
          replace: { 'Body Text': text, 'wamid.xyzxyz': externalMessageId },
        })
      : instagramDelivery('ig_inbound_text.json', conversation, { at, text, mid: externalMessageId });
  const delivery = await deliver(server, conversation.integration, body);
  if (delivery.status !== 'PROCESSED') throw new Error(`the customer's message failed: ${JSON.stringify(delivery)}`);
  return server.app.db.prisma.message.findUniqueOrThrow({
    where: {
      platformIntegrationId_externalMessageId: {
        platformIntegrationId: conversation.integration.id,
        externalMessageId,
      },
    },
  });
}

/**
 * A WhatsApp integration of the organization, `client`'s verified link on it, and a delivery it received from
 * someone who is not linked (stored, and FAILED for admins to look at): one of each row an integration has.
 */
export async function integrationWithTraffic(server: TestServer, org: TestOrganization, client: TestUser) {
  const integration = await createIntegration(server, org, 'WHATSAPP', {
    platformAccountId: `${Date.now()}${Math.floor(Math.random() * 1000)}`,
  });
  const link = await linkClient(server, org, client, integration, {
    platformUserId: randomPhone(),
    scopedUserId: null,
  });
  const body = fixtureText('wa_inbound_text.json').replaceAll('1122334455667', integration.platformAccountId!);
  const answer = await post(server, integration, body);
  if (answer.status !== 200) throw new Error(`webhook answered ${answer.status}: ${answer.text}`);
  const delivery = await processed(server, integration, body);
  return { integration, link, delivery };
}
