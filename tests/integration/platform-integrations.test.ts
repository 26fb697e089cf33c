import { randomBytes } from 'node:crypto';
import { useFixture } from '../support/fixture.js';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { keyIdOf } from '../../src/lib/secrets.js';
import { createLogger } from '../../src/logger.js';
import { graphql } from '../gql/index.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer } from '../support/server.js';

const Integrations = graphql(`
  query Integrations {
    platformIntegrations {
      id
      platform
      integrationName
      webhookUrl
      isActive
      businessPhone
      businessAccountId
      platformAccountId
      settings
    }
  }
`);

const CreateIntegration = graphql(`
  mutation CreateIntegration($input: CreatePlatformIntegrationInput!) {
    createPlatformIntegration(input: $input) {
      id
      platform
      integrationName
      webhookUrl
      isActive
      businessPhone
      platformAccountId
      settings
    }
  }
`);

const UpdateIntegration = graphql(`
  mutation UpdateIntegration($input: UpdatePlatformIntegrationInput!) {
    updatePlatformIntegration(input: $input) {
      id
      integrationName
      isActive
      settings
    }
  }
`);

const DeactivateIntegration = graphql(`
  mutation DeactivateIntegration($id: ID!) {
    deactivatePlatformIntegration(id: $id) {
      id
      isActive
    }
  }
`);

const IntegrationFields = graphql(`
  query IntegrationFields {
    __type(name: "PlatformIntegration") {
      fields {
        name
      }
    }
  }
`);

const KEY_1 = randomBytes(32).toString('hex');
const KEY_2 = randomBytes(32).toString('hex');
const PUBLIC_URL = 'https://chat.example.test';

const { server, org } = useFixture({
  server: { env: { ENCRYPTION_KEY: KEY_1, PUBLIC_URL } },
  organization: { users: ['Sam'], clients: ['Cora'] },
});
let other: TestOrganization;

beforeAll(async () => {
  other = await seedOrganization(server());
});

const whatsApp = (overrides: Record<string, unknown> = {}) => ({
  platform: 'WHATSAPP' as const,
  integrationName: 'Support line',
  accessToken: `EAAG${randomBytes(24).toString('hex')}`,
  appSecret: randomBytes(16).toString('hex'),
  verifyToken: `verify-${randomBytes(6).toString('hex')}`,
  businessPhone: '+972 12-345-6789',
  businessAccountId: '1234567890987654321',
  platformAccountId: String(Date.now()) + String(Math.floor(Math.random() * 1000)),
  settings: { greeting: 'hi' },
  ...overrides,
});

const create = async (token: string, input = whatsApp()) =>
  dataOf(await gql(server().graphqlUrl, CreateIntegration, { input }, { token })).createPlatformIntegration;

const storedRow = (id: string) => server().app.db.prisma.platformIntegration.findUniqueOrThrow({ where: { id } });

describe('createPlatformIntegration', () => {
  it('stores the secrets sealed, returns the webhook URL and never a secret', async () => {
    const input = whatsApp();
    const created = await create(org().admin.token, input);
    expect(created).toEqual({
      id: expect.any(String),
      platform: 'WHATSAPP',
      integrationName: 'Support line',
      webhookUrl: `${PUBLIC_URL}/webhooks/whatsapp/${created.id}`,
      isActive: true,
      businessPhone: '+972 12-345-6789',
      platformAccountId: input.platformAccountId,
      settings: { greeting: 'hi' },
    });

    const row = await storedRow(created.id);
    expect(row.webhookUrl).toBe(created.webhookUrl);
    for (const column of ['accessToken', 'appSecret', 'verifyToken'] as const) {
      expect(row[column]).toMatch(new RegExp(`^v1:${keyIdOf(Buffer.from(KEY_1, 'hex'))}:`));
      expect(row[column]).not.toContain(input[column]);
    }
    const opened = await server().app.services.integrations.forWebhook(created.id, 'WHATSAPP');
    expect(opened).toMatchObject({ appSecret: input.appSecret, verifyToken: input.verifyToken });
    expect(server().app.services.integrations.accessTokenOf(row)).toBe(input.accessToken);

    const fields = dataOf(await gql(server().graphqlUrl, IntegrationFields, {}, { token: org().admin.token }));
    const names = fields.__type?.fields?.map((field) => field.name) ?? [];
    expect(names).toContain('webhookUrl');
    expect(names.filter((name) => /token|secret/i.test(name))).toEqual([]);
  });

  it('is for admins only', async () => {
    for (const user of [org().users.Sam!, org().clients.Cora!]) {
      const response = await gql(server().graphqlUrl, CreateIntegration, { input: whatsApp() }, { token: user.token });
      expect(errorCodes(response)).toEqual(['FORBIDDEN']);
    }
    const list = await gql(server().graphqlUrl, Integrations, {}, { token: org().users.Sam!.token });
    expect(errorCodes(list)).toEqual(['FORBIDDEN']);
  });

  it('names each bad field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ accessToken: '' }, 'input.accessToken'],
      [{ appSecret: 'has space' }, 'input.appSecret'],
      [{ verifyToken: 'x'.repeat(257) }, 'input.verifyToken'],
      [{ integrationName: '   ' }, 'input.integrationName'],
      [{ settings: [1, 2] }, 'input.settings'],
      [{ settings: 'text' }, 'input.settings'],
      [{ platformAccountId: 'phone-1' }, 'input.platformAccountId'],
      [{ businessPhone: 'call me' }, 'input.businessPhone'],
    ];
    for (const [override, field] of cases) {
      const response = await gql(
        server().graphqlUrl,
        CreateIntegration,
        { input: whatsApp(override) },
        { token: org().admin.token },
      );
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });

  it('refuses a second active integration for the same account', async () => {
    const input = whatsApp();
    await create(org().admin.token, input);
    const again = await gql(
      server().graphqlUrl,
      CreateIntegration,
      { input: whatsApp({ platformAccountId: input.platformAccountId }) },
      { token: org().admin.token },
    );
    expect(errorCodes(again)).toEqual(['CONFLICT']);
    // Another organization may use the same account id: routing never crosses organizations.
    await create(other.admin.token, whatsApp({ platformAccountId: input.platformAccountId }));
  });
});

describe('platformIntegrations', () => {
  it("lists the organization's own integrations only", async () => {
    const mine = await create(org().admin.token, whatsApp({ platform: 'INSTAGRAM', integrationName: 'Insta' }));
    const theirs = await create(other.admin.token);
    const list = dataOf(
      await gql(server().graphqlUrl, Integrations, {}, { token: org().admin.token }),
    ).platformIntegrations;
    const ids = list.map((integration) => integration.id);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(theirs.id);
    expect(list.find((integration) => integration.id === mine.id)?.webhookUrl).toBe(
      `${PUBLIC_URL}/webhooks/instagram/${mine.id}`,
    );
  });
});

describe('updatePlatformIntegration and deactivatePlatformIntegration', () => {
  it('replaces the secrets given and keeps the others', async () => {
    const input = whatsApp();
    const created = await create(org().admin.token, input);
    const updated = dataOf(
      await gql(
        server().graphqlUrl,
        UpdateIntegration,
        { input: { id: created.id, integrationName: 'Renamed', appSecret: 'new-app-secret', settings: { a: 1 } } },
        { token: org().admin.token },
      ),
    ).updatePlatformIntegration;
    expect(updated).toEqual({ id: created.id, integrationName: 'Renamed', isActive: true, settings: { a: 1 } });
    const opened = await server().app.services.integrations.forWebhook(created.id, 'WHATSAPP');
    expect(opened).toMatchObject({ appSecret: 'new-app-secret', verifyToken: input.verifyToken });
  });

  it('deactivates and reactivates; other organizations and staff cannot touch it', async () => {
    const created = await create(org().admin.token);
    const foreign = await gql(
      server().graphqlUrl,
      DeactivateIntegration,
      { id: created.id },
      { token: other.admin.token },
    );
    expect(errorCodes(foreign)).toEqual(['NOT_FOUND']);
    const foreignUpdate = await gql(
      server().graphqlUrl,
      UpdateIntegration,
      { input: { id: created.id, integrationName: 'x' } },
      { token: other.admin.token },
    );
    expect(errorCodes(foreignUpdate)).toEqual(['NOT_FOUND']);
    const staff = await gql(
      server().graphqlUrl,
      DeactivateIntegration,
      { id: created.id },
      { token: org().users.Sam!.token },
    );
    expect(errorCodes(staff)).toEqual(['FORBIDDEN']);
    const malformed = await gql(
      server().graphqlUrl,
      DeactivateIntegration,
      { id: 'nope' },
      { token: org().admin.token },
    );
    expect(malformed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });

    const deactivated = dataOf(
      await gql(server().graphqlUrl, DeactivateIntegration, { id: created.id }, { token: org().admin.token }),
    );
    expect(deactivated.deactivatePlatformIntegration).toEqual({ id: created.id, isActive: false });
    expect(await server().app.services.integrations.forWebhook(created.id, 'WHATSAPP')).toBeNull();
    const reactivated = dataOf(
      await gql(
        server().graphqlUrl,
        UpdateIntegration,
        { input: { id: created.id, isActive: true } },
        { token: org().admin.token },
      ),
    );
    expect(reactivated.updatePlatformIntegration.isActive).toBe(true);
  });
});

describe('key rotation', () => {
  it('opens secrets sealed with a previous key and re-seals them on update and with resealAll', async () => {
    const first = whatsApp();
    const second = whatsApp();
    const one = await create(org().admin.token, first);
    const two = await create(org().admin.token, second);
    const rotated = await startServer({
      env: { ENCRYPTION_KEY: KEY_2, ENCRYPTION_PREVIOUS_KEYS: KEY_1, PUBLIC_URL },
    });
    try {
      const services = rotated.app.services.integrations;
      expect(await services.forWebhook(one.id, 'WHATSAPP')).toMatchObject({ appSecret: first.appSecret });

      await gql(
        rotated.graphqlUrl,
        UpdateIntegration,
        { input: { id: one.id, integrationName: 'Rotated' } },
        { token: org().admin.token },
      );
      const newKeyId = keyIdOf(Buffer.from(KEY_2, 'hex'));
      const resealedOnUpdate = await storedRow(one.id);
      expect(
        [resealedOnUpdate.accessToken, resealedOnUpdate.appSecret, resealedOnUpdate.verifyToken].map(
          (v) => v.split(':')[1],
        ),
      ).toEqual([newKeyId, newKeyId, newKeyId]);

      // Other test files' integrations (sealed with the development key) are reported, not touched.
      const { resealed: count, unreadable } = await services.resealAll();
      expect(count).toBeGreaterThanOrEqual(1);
      expect(unreadable).not.toContain(two.id);
      const resealed = await storedRow(two.id);
      expect(resealed.verifyToken.split(':')[1]).toBe(newKeyId);
      expect(services.accessTokenOf(resealed)).toBe(second.accessToken);
    } finally {
      await rotated.stop();
    }
  });
});

describe('logging', () => {
  it('redacts the secrets of an integration input wherever it appears in a log line', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    const input = whatsApp();
    logger.info({ input }, 'creating integration');
    logger.info({ variables: { input } }, 'graphql operation');
    logger.info(input, 'flat');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      for (const secret of [input.accessToken, input.appSecret, input.verifyToken]) expect(line).not.toContain(secret);
      expect(line).toContain('[redacted]');
      expect(line).toContain('Support line');
    }
  });
});
