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

// What may be done to a message. A deleted message takes no replies and no reactions, from the app (refused
// alike, as BAD_USER_INPUT naming the argument) or from a platform (a customer's reply is kept, outside the
// thread). A thread lists and counts the same replies: those not deleted. A reaction is what its error message
// says: a single emoji (skin tones, flags, keycaps and ZWJ sequences included) or a :shortcode:; any
// 64-character word used to pass.

let server: TestServer;
let org: TestOrganization;
let sam: TestUser;

beforeAll(async () => {
  server = await startServer();
  org = await seedOrganization(server, { users: ['Sam'] });
  sam = org.users.Sam!;
});
afterAll(() => server?.stop());

const ask = (query: string, variables: Record<string, unknown>, user: TestUser = sam) =>
  rawGql(server.graphqlUrl, query, variables, user.token);

const REPLY = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { id threadId } }';
const REACT = 'mutation($input: ReactionInput!) { addReaction(input: $input) { reactions { emoji } } }';
const DELETE = 'mutation($id: ID!) { deleteMessage(messageId: $id) { id deleted } }';
const THREAD = 'query($id: ID!) { message(id: $id) { replyCount replies(first: 10) { edges { node { id } } } } }';

const refusal = (response: { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }) => ({
  codes: (response.errors ?? []).map((error) => error.extensions?.code),
  field: response.errors?.[0]?.extensions?.field,
  message: response.errors?.[0]?.message,
});

async function deleted(user: TestUser, id: string) {
  const response = await ask(DELETE, { id }, user);
  expect(response.errors).toBeUndefined();
}

describe('a deleted message', () => {
  it('is refused a reply exactly as it is refused a reaction', async () => {
    const channel = await createChannel(server, sam);
    const message = await send(server, sam, channel.id, 'soon gone');
    await deleted(sam, message.id);
    const reply = await ask(REPLY, { input: { channelId: channel.id, content: 'too late', threadId: message.id } });
    const reaction = await ask(REACT, { input: { messageId: message.id, emoji: '👍' } });
    expect(refusal(reply)).toEqual({
      codes: ['BAD_USER_INPUT'],
      field: 'input.threadId',
      message: 'input.threadId: the message was deleted',
    });
    expect(refusal(reaction)).toEqual({
      codes: ['BAD_USER_INPUT'],
      field: 'input.messageId',
      message: 'input.messageId: the message was deleted',
    });
    expect(await channelMessages(server, channel.id)).toHaveLength(1);
  });

  it("takes no reply through one of its thread's replies either", async () => {
    const channel = await createChannel(server, sam);
    const root = await send(server, sam, channel.id, 'root');
    const reply = await send(server, sam, channel.id, 'reply', root.id);
    await deleted(sam, root.id);
    const nested = await ask(REPLY, { input: { channelId: channel.id, content: 'nested', threadId: reply.id } });
    expect(refusal(nested)).toMatchObject({ codes: ['BAD_USER_INPUT'], field: 'input.threadId' });
  });

  it("keeps a customer's WhatsApp reply to it, outside the thread, and ignores their reaction", async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const answered = await customerWrites(server, conversation, { text: 'I will unsay this' });
    await deleted(org.admin, answered.id);
    await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_reply_with_context.json', conversation, {
        replace: { 'wamid.xyzxyz==': answered.externalMessageId!, 'wamid.xyzxyz': 'wamid.reply-to-deleted' },
      }),
    );
    await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_reaction.json', conversation, {
        replace: { 'wamid.yzxyzx=': answered.externalMessageId!, 'wamid.xyzxyz': 'wamid.reaction-to-deleted' },
      }),
    );
    const stored = await channelMessages(server, conversation.channelId);
    expect(stored.map((message) => ({ content: message.content, threadId: message.threadId }))).toEqual([
      { content: null, threadId: null },
      { content: 'replied text', threadId: null },
    ]);
    expect(await server.app.db.prisma.messageReaction.count({ where: { messageId: answered.id } })).toBe(0);
  });
});

describe('a thread', () => {
  it('counts the replies it lists: a deleted reply leaves both', async () => {
    const channel = await createChannel(server, sam);
    const root = await send(server, sam, channel.id, 'root');
    const kept = await send(server, sam, channel.id, 'kept', root.id);
    const removed = await send(server, sam, channel.id, 'removed', root.id);
    await deleted(sam, removed.id);
    const thread = await ask(THREAD, { id: root.id });
    expect(thread.data).toEqual({ message: { replyCount: 1, replies: { edges: [{ node: { id: kept.id } }] } } });
    // The channel's history still shows the tombstone.
    const history = await ask('query($c: ID!) { messages(channelId: $c) { edges { node { id deleted } } } }', {
      c: channel.id,
    });
    expect(history.data).toEqual({
      messages: {
        edges: [
          { node: { id: root.id, deleted: false } },
          { node: { id: kept.id, deleted: false } },
          { node: { id: removed.id, deleted: true } },
        ],
      },
    });
  });
});

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
