import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraphQLFormattedError } from 'graphql';
import { schema } from '../../src/schema/index.js';
import { channelMessages, deliver, openConversation, whatsAppDelivery } from '../support/conversations.js';
import { wsClient } from '../support/graphql.js';
import { recordingLogger } from '../support/hostile.js';
import { rawGql } from '../support/raw.js';
import { inputTargets, operationFor } from '../support/schema-inputs.js';
import { startServer, type TestServer } from '../support/server.js';
import { seedWorld, type World } from '../support/world.js';

// A string PostgreSQL cannot store as text (U+0000, an unpaired surrogate) is refused as BAD_USER_INPUT naming
// where it was, whichever argument or input field it is in, at any depth inside JSON, whether written in the
// document or passed as a variable, over HTTP or graphql-ws. Before, each reached the database and came back
// as INTERNAL_SERVER_ERROR, with a stack in the log.

let server: TestServer;
let world: World;
const recorder = recordingLogger();

beforeAll(async () => {
  server = await startServer({ logger: recorder.logger });
  world = await seedWorld(server);
});
afterAll(() => server?.stop());

type Result = { data?: unknown; errors?: readonly GraphQLFormattedError[] };

const overHttp = (query: string, variables: Record<string, unknown>): Promise<Result> =>
  rawGql(server.graphqlUrl, query, variables, world.org.admin.token);

/** The first result of an operation over graphql-ws (a subscription's first event, or its errors). */
async function overWebSocket(query: string, variables: Record<string, unknown>): Promise<Result> {
  const client = wsClient(server.wsUrl, world.org.admin.token);
  try {
    return await new Promise<Result>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer over graphql-ws to ${query}`)), 5_000);
      client.subscribe(
        { query, variables },
        {
          next: (result) => {
            clearTimeout(timer);
            resolve(result as Result);
          },
          error: (error) => {
            clearTimeout(timer);
            resolve({ errors: Array.isArray(error) ? error : [{ message: String(error) }] });
          },
          complete: () => undefined,
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

const refusal = (result: Result) => ({
  codes: (result.errors ?? []).map((error) => error.extensions?.code),
  field: result.errors?.[0]?.extensions?.field,
});

describe('strings that cannot be stored as text', () => {
  const content = 'before\u0000after';

  it('are refused in sendMessage.content, as a variable or written in the document, over HTTP and graphql-ws', async () => {
    const send = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }';
    const variables = { input: { channelId: world.channelId, content } };
    const inline = `mutation { sendMessage(input: { channelId: "${world.channelId}", content: ${JSON.stringify(content)} }) { id } }`;
    const expected = { codes: ['BAD_USER_INPUT'], field: 'input.content' };
    const before = await server.app.db.prisma.message.count({ where: { channelId: world.channelId } });
    expect(refusal(await overHttp(send, variables))).toEqual(expected);
    expect(refusal(await overHttp(inline, {}))).toEqual(expected);
    expect(refusal(await overWebSocket(send, variables))).toEqual(expected);
    expect(refusal(await overWebSocket(inline, {}))).toEqual(expected);
    expect(await server.app.db.prisma.message.count({ where: { channelId: world.channelId } })).toBe(before);
  });

  it.each([
    [
      'createChannel.name',
      'mutation($input: CreateChannelInput!) { createChannel(input: $input) { id } }',
      () => ({ input: { name: 'room\u0000' } }),
      'input.name',
    ],
    [
      'updateUser.displayName',
      'mutation($input: UpdateUserInput!) { updateUser(input: $input) { id } }',
      () => ({ input: { id: world.staff.id, displayName: 'Sam\u0000' } }),
      'input.displayName',
    ],
    [
      'createPlatformIntegration.integrationName',
      'mutation($input: CreatePlatformIntegrationInput!) { createPlatformIntegration(input: $input) { id } }',
      () => ({
        input: {
          platform: 'WHATSAPP',
          integrationName: 'wa\u0000',
          accessToken: 'a',
          appSecret: 'b',
          verifyToken: 'c',
        },
      }),
      'input.integrationName',
    ],
    [
      'a string deep inside createPlatformIntegration.settings',
      'mutation($input: CreatePlatformIntegrationInput!) { createPlatformIntegration(input: $input) { id } }',
      () => ({
        input: {
          platform: 'WHATSAPP',
          integrationName: 'wa',
          accessToken: 'a',
          appSecret: 'b',
          verifyToken: 'c',
          settings: { labels: ['fine', 'bad\u0000'] },
        },
      }),
      'input.settings.labels.1',
    ],
    [
      'an unpaired surrogate in sendMessage.metadata',
      'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }',
      () => ({ input: { channelId: world.channelId, content: 'hi', metadata: { note: 'x\ud800' } } }),
      'input.metadata.note',
    ],
  ])('are refused in %s, naming the field', async (_case, query, variables, field) => {
    const result = await overHttp(query, variables());
    expect(refusal(result)).toEqual({ codes: ['BAD_USER_INPUT'], field });
  });

  it('are refused in every string argument and input field of the schema, named by their path', async () => {
    const textual = inputTargets(schema).filter((target) => ['String', 'ID', 'JSON'].includes(target.type.name));
    expect(textual.map((target) => target.name)).toEqual(
      expect.arrayContaining([
        'Mutation.sendMessage(input.content)',
        'Query.messages(after)',
        'Channel.members(after)',
        'Subscription.viewerEvents(after)',
      ]),
    );
    const answers: { target: string; inline: boolean; refusal: ReturnType<typeof refusal> }[] = [];
    const expected: typeof answers = [];
    for (const target of textual) {
      // Inside JSON, the bad string sits two levels down.
      const value = target.type.name === 'JSON' ? { deeper: ['ok', 'bad\u0000'] } : 'bad\u0000';
      const field = [
        ...target.path,
        ...(target.list ? ['0'] : []),
        ...(target.type.name === 'JSON' ? ['deeper', '1'] : []),
      ];
      for (const inline of [false, true]) {
        const { query, variables } = operationFor(target, value, world.fillers, { inline });
        const result =
          target.operation === 'subscription'
            ? await overWebSocket(query, variables)
            : await overHttp(query, variables);
        answers.push({ target: target.name, inline, refusal: refusal(result) });
        expected.push({ target: target.name, inline, refusal: { codes: ['BAD_USER_INPUT'], field: field.join('.') } });
      }
    }
    expect(answers).toEqual(expected);
  });

  it('are kept, replaced by U+FFFD, when a customer sends them from WhatsApp: nothing of the delivery is lost', async () => {
    const conversation = await openConversation(server, world.org, 'WHATSAPP');
    // JSON escapes, as Meta's body would carry them.
    const delivery = await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_text.json', conversation, { replace: { 'Body Text': 'a\\u0000b \\ud800c' } }),
    );
    expect(delivery).toMatchObject({ status: 'PROCESSED', errors: null });
    const [message] = await channelMessages(server, conversation.channelId);
    expect(message!.content).toBe('a\ufffdb \ufffdc');
  });

  it('left nothing unexpected in the log', () => {
    expect(recorder.problems()).toEqual([]);
  });
});
