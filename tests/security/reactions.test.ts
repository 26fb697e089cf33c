import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  channelMessages,
  customerWrites,
  deliver,
  instagramDelivery,
  openConversation,
  whatsAppDelivery,
} from '../support/conversations.js';
import { createChannel, send } from '../support/messaging.js';
import { rawGql } from '../support/raw.js';
import { seedOrganization, type TestOrganization, type TestUser } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// A reaction is what its error message says: a single emoji (with skin tones, flags, keycaps and ZWJ sequences)
// or a :shortcode:. Any 64-character word used to pass.

let server: TestServer;
let org: TestOrganization;
let sam: TestUser;

beforeAll(async () => {
  server = await startServer();
  org = await seedOrganization(server, { users: ['Sam'] });
  sam = org.users.Sam!;
});
afterAll(() => server?.stop());

const REACT = 'mutation($input: ReactionInput!) { addReaction(input: $input) { reactions { emoji } } }';

describe('reactions', () => {
  it('refuse words and several emoji as BAD_USER_INPUT on input.emoji', async () => {
    const channel = await createChannel(server, sam);
    const message = await send(server, sam, channel.id, 'react to me');
    for (const emoji of ['hello', 'lol', '+1', '👍👍', 'ok👍', 'a'.repeat(64)]) {
      const response = await rawGql(server.graphqlUrl, REACT, { input: { messageId: message.id, emoji } }, sam.token);
      expect({ emoji, codes: response.errors?.map((error) => error.extensions) }).toEqual({
        emoji,
        codes: [expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'input.emoji' })],
      });
    }
    expect(await server.app.db.prisma.messageReaction.count({ where: { messageId: message.id } })).toBe(0);
  });

  it('accept one emoji of any kind, or a :shortcode:', async () => {
    const channel = await createChannel(server, sam);
    const message = await send(server, sam, channel.id, 'react to me');
    const accepted = ['👍', '👍🏿', '👩🏽‍💻', '🏳️‍🌈', '🇯🇵', '#️⃣', '❤️‍🔥', ':party_parrot:'];
    for (const emoji of accepted) {
      const response = await rawGql(server.graphqlUrl, REACT, { input: { messageId: message.id, emoji } }, sam.token);
      expect({ emoji, errors: response.errors }).toEqual({ emoji, errors: undefined });
    }
  });

  it("from WhatsApp and Instagram still land, and staff can answer with the customer's emoji", async () => {
    const whatsApp = await openConversation(server, org, 'WHATSAPP');
    const written = await customerWrites(server, whatsApp);
    await deliver(
      server,
      whatsApp.integration,
      whatsAppDelivery('wa_inbound_reaction.json', whatsApp, {
        replace: { 'wamid.yzxyzx=': written.externalMessageId!, 'wamid.xyzxyz': 'wamid.reaction-1' },
      }),
    );
    const instagram = await openConversation(server, org, 'INSTAGRAM');
    await deliver(server, instagram.integration, instagramDelivery('ig_inbound_text.json', instagram, { mid: 'm1' }));
    await deliver(server, instagram.integration, instagramDelivery('ig_reaction_react.json', instagram, { mid: 'm1' }));
    const [igMessage] = await channelMessages(server, instagram.channelId);
    const stored = await server.app.db.prisma.messageReaction.findMany({
      where: { messageId: { in: [written.id, igMessage!.id] } },
      select: { messageId: true, emoji: true },
      orderBy: { createdAt: 'asc' },
    });
    expect(stored).toEqual([
      { messageId: written.id, emoji: '😮' },
      { messageId: igMessage!.id, emoji: '❤️' },
    ]);
    for (const { messageId, emoji } of stored) {
      const response = await rawGql(server.graphqlUrl, REACT, { input: { messageId, emoji } }, org.admin.token);
      expect(response.errors).toBeUndefined();
    }
  });
});
