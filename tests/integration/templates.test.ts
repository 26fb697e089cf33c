import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { deliver, openConversation } from '../support/conversations.js';
import { fixtureJson, fixtureText } from '../support/fixtures.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { sendMessage, settledOutbound, startSendingWorld, type SendingWorld } from '../support/outbound.js';
import { createIntegration, type TestIntegration } from '../support/platform.js';
import { seedOrganization, type TestOrganization, type TestUser } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';

// WhatsApp templates end to end: synced from the fake Graph API page by page, kept current by Meta's signed
// status webhook, and sent through the outbox as the Send API documents it, when the 24-hour window is closed.

const Sync = graphql(`
  mutation SyncTemplates($id: ID!) {
    syncMessageTemplates(integrationId: $id) {
      name
      language
      status
    }
  }
`);

const Templates = graphql(`
  query Templates($id: ID!) {
    messageTemplates(integrationId: $id) {
      name
      language
      category
      status
      statusReason
      components
    }
  }
`);

const SendTemplate = graphql(`
  mutation SendTemplate($input: SendTemplateMessageInput!) {
    sendTemplateMessage(input: $input) {
      id
      content
      metadata
    }
  }
`);

interface ListedTemplate {
  id: string;
  name: string;
  language: string;
  status: string;
  category: string;
  components: unknown[];
}

const listed = () => fixtureJson<{ data: ListedTemplate[] }>('wa_message_templates_list.json').data;
const documentedSend = () => fixtureJson<{ body: Record<string, unknown> }>('wa_send_template_request.json').body;

let world: SendingWorld;
let org: TestOrganization;

beforeAll(async () => {
  world = await startSendingWorld();
  org = await seedOrganization(world.server, { users: ['Agent'] });
}, SENDER_LOCK_WAIT_MS);
afterAll(async () => {
  await world?.stop();
});

const call = <R, V>(document: Parameters<typeof gql<R, V>>[1], variables: V, user: TestUser) =>
  gql(world.server.graphqlUrl, document, variables, { token: user.token });

/** A WhatsApp integration with a business account whose templates the fake lists (two per page). */
async function whatsAppAccount(templates: object[] = listed()): Promise<TestIntegration & { accountId: string }> {
  const accountId = `waba-${randomBytes(4).toString('hex')}`;
  const integration = await createIntegration(world.server, org, 'WHATSAPP', {
    platformAccountId: `${Date.now()}${randomBytes(2).readUInt16BE(0)}`,
    businessAccountId: accountId,
  });
  world.serveTemplates(accountId, { templates, pageSize: 2 });
  return { ...integration, accountId };
}

describe('syncing templates', () => {
  it('reads every page from the Graph API and lists the templates with their components', async () => {
    const integration = await whatsAppAccount();
    const synced = dataOf(await call(Sync, { id: integration.id }, org.admin)).syncMessageTemplates;
    expect(synced).toHaveLength(5);

    const requests = world.fake.requests.filter((request) => request.path.includes(`/${integration.accountId}/`));
    expect(
      requests.map((request) => [request.method, new URL(request.path, 'http://x').searchParams.get('after')]),
    ).toEqual([
      ['GET', null],
      ['GET', '2'],
      ['GET', '4'],
    ]);
    expect(requests.every((request) => request.authorization === `Bearer ${integration.accessToken}`)).toBe(true);

    const templates = dataOf(await call(Templates, { id: integration.id }, org.users.Agent!)).messageTemplates;
    const expected = listed()
      .map(({ name, language, category, status, components }) => ({
        name,
        language,
        category,
        status,
        statusReason: null,
        components,
      }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.language.localeCompare(b.language));
    expect(templates).toEqual(expected);

    // Meta no longer lists one and approved another: the next sync says so.
    const [first, pending, ...rest] = listed();
    world.serveTemplates(integration.accountId, {
      templates: [{ ...pending!, status: 'APPROVED' }, ...rest],
      pageSize: 2,
    });
    dataOf(await call(Sync, { id: integration.id }, org.admin));
    const after = dataOf(await call(Templates, { id: integration.id }, org.admin)).messageTemplates;
    expect(after.map((template) => `${template.name}/${template.language}/${template.status}`)).toEqual([
      'account_notice/en_US/APPROVED',
      'delivery_photo/en_US/APPROVED',
      'order_update/es/APPROVED',
      'welcome_back/en_US/APPROVED',
    ]);
    expect(first!.language).toBe('en_US');
  });

  it('is for admins, on their own integrations, and says when Meta refuses', async () => {
    const integration = await whatsAppAccount();
    expect(errorCodes(await call(Sync, { id: integration.id }, org.users.Agent!))).toEqual(['FORBIDDEN']);
    const other = await seedOrganization(world.server);
    expect(errorCodes(await call(Sync, { id: integration.id }, other.admin))).toEqual(['NOT_FOUND']);
    expect(errorCodes(await call(Templates, { id: integration.id }, other.admin))).toEqual(['NOT_FOUND']);

    world.serveTemplates(integration.accountId, {
      status: 401,
      body: { error: { message: 'Error validating access token', type: 'OAuthException', code: 190 } },
    });
    const refused = await call(Sync, { id: integration.id }, org.admin);
    expect(errorCodes(refused)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(refused.errors?.[0]?.message).toContain('Error validating access token');
  });
});

describe('template status webhooks', () => {
  it("apply Meta's status and reason to the template", async () => {
    const integration = await whatsAppAccount();
    dataOf(await call(Sync, { id: integration.id }, org.admin));
    const delivery = await deliver(world.server, integration, fixtureText('wa_template_status_update.json'));
    expect(delivery.status).toBe('PROCESSED');
    const templates = dataOf(await call(Templates, { id: integration.id }, org.admin)).messageTemplates;
    expect(
      templates.find((template) => template.name === 'order_update' && template.language === 'en_US'),
    ).toMatchObject({ status: 'REJECTED', statusReason: 'INCORRECT_CATEGORY' });
    // The rejected template is no longer sendable.
    const conversation = await openConversation(world.server, org, 'WHATSAPP', { integration });
    const refused = await call(
      SendTemplate,
      {
        input: {
          channelId: conversation.channelId,
          templateName: 'order_update',
          language: 'en_US',
          parameters: documentedSend().template,
        },
      },
      org.admin,
    );
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors?.[0]?.message).toContain('REJECTED');
  });
});

describe('sending templates', () => {
  const orderParameters = () => (documentedSend().template as { components: unknown[] }).components;

  it('goes out through the outbox when the window is closed, as Meta documents, and shows its rendered text', async () => {
    const integration = await whatsAppAccount();
    dataOf(await call(Sync, { id: integration.id }, org.admin));
    const conversation = await openConversation(world.server, org, 'WHATSAPP', { integration });
    // The customer never wrote: free-form is CONFLICT, naming the template way out.
    const freeForm = await sendMessage(world.server, org.admin, { channelId: conversation.channelId, content: 'Hi' });
    expect(errorCodes(freeForm)).toEqual(['CONFLICT']);
    expect(freeForm.errors?.[0]?.message).toContain('template');

    const sent = dataOf(
      await call(
        SendTemplate,
        {
          input: {
            channelId: conversation.channelId,
            templateName: 'order_update',
            language: 'en_US',
            parameters: orderParameters(),
          },
        },
        org.admin,
      ),
    ).sendTemplateMessage;
    expect(sent.content).toBe('Hi John, your order #1234 is on its way.\n\nReply STOP to opt out');
    expect(sent.metadata).toEqual({
      template: { name: 'order_update', language: 'en_US', components: orderParameters() },
    });
    const row = await settledOutbound(world.server, sent.id);
    expect(row.status).toBe('SENT');
    expect(world.requestsTo(conversation.platformUserId!).map((request) => request.body)).toEqual([
      { ...documentedSend(), to: conversation.platformUserId },
    ]);
  });

  it('checks parameters against the template: media headers, URL buttons and named parameters', async () => {
    const integration = await whatsAppAccount();
    dataOf(await call(Sync, { id: integration.id }, org.admin));
    const conversation = await openConversation(world.server, org, 'WHATSAPP', { integration });
    const send = (templateName: string, parameters: unknown, language = 'en_US') =>
      call(
        SendTemplate,
        { input: { channelId: conversation.channelId, templateName, language, parameters } },
        org.admin,
      );

    const photo = [
      { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/parcel.jpg' } }] },
      { type: 'body', parameters: [{ type: 'text', text: 'Ada' }] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'abc' }] },
    ];
    expect(dataOf(await send('delivery_photo', photo)).sendTemplateMessage.content).toBe(
      'Your parcel was delivered, Ada.',
    );
    const named = [
      { type: 'header', parameters: [{ type: 'text', parameter_name: 'customer', text: 'Ada' }] },
      { type: 'body', parameters: [{ type: 'text', parameter_name: 'date', text: '1 May' }] },
    ];
    expect(dataOf(await send('account_notice', named)).sendTemplateMessage.content).toBe(
      'Notice for Ada\n\nYour plan renews on 1 May.',
    );
    expect(dataOf(await send('welcome_back', [])).sendTemplateMessage.content).toBe(
      'Welcome back! Reply to continue the conversation.',
    );

    const missing = await send('order_update', [{ type: 'body', parameters: [{ type: 'text', text: 'John' }] }]);
    expect(errorCodes(missing)).toEqual(['BAD_USER_INPUT']);
    expect(missing.errors?.[0]?.extensions?.field).toBe('input.parameters.body');
    expect(missing.errors?.[0]?.message).toContain('{{2}}');

    const noHeaderOrButton = await send('delivery_photo', [photo[1]]);
    expect(noHeaderOrButton.errors?.[0]?.extensions?.fields).toEqual([
      'input.parameters.header',
      'input.parameters.button[0]',
    ]);
    const extra = await send('welcome_back', [{ type: 'body', parameters: [{ type: 'text', text: 'x' }] }]);
    expect(errorCodes(extra)).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await send('order_update', 'not a list'))).toEqual(['BAD_USER_INPUT']);

    // Not APPROVED, not in the language asked, not a template at all.
    const pending = await send('order_update', orderParameters(), 'es');
    expect(pending.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.templateName' } });
    expect(pending.errors?.[0]?.message).toContain('PENDING');
    const language = await send('order_update', orderParameters(), 'de');
    expect(language.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.language' } });
    expect(errorCodes(await send('no_such_template', []))).toEqual(['BAD_USER_INPUT']);

    // Nothing refused was stored.
    const stored = await world.server.app.db.prisma.message.count({ where: { channelId: conversation.channelId } });
    expect(stored).toBe(3);
  });

  it('is refused for Instagram clients, staff channels and clients', async () => {
    const integration = await whatsAppAccount();
    dataOf(await call(Sync, { id: integration.id }, org.admin));
    const instagram = await openConversation(world.server, org, 'INSTAGRAM');
    const input = (channelId: string) => ({
      input: { channelId, templateName: 'welcome_back', language: 'en_US', parameters: [] },
    });
    expect(errorCodes(await call(SendTemplate, input(instagram.channelId), org.admin))).toEqual(['BAD_USER_INPUT']);
    const staffChannel = await world.server.app.services.channels.create(org.admin.session, {
      name: `staff-${Date.now()}`,
      channelType: 'PUBLIC',
    });
    expect(errorCodes(await call(SendTemplate, input(staffChannel.id), org.admin))).toEqual(['BAD_USER_INPUT']);
    const whatsapp = await openConversation(world.server, org, 'WHATSAPP', { integration });
    expect(errorCodes(await call(SendTemplate, input(whatsapp.channelId), whatsapp.client))).toEqual(['FORBIDDEN']);
  });
});
