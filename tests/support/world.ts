import { integrationWithTraffic } from './conversations.js';
import { createChannel, send } from './messaging.js';
import type { TestIntegration } from './platform.js';
import { rawGql } from './raw.js';
import type { Fillers } from './schema-inputs.js';
import { seedOrganization, type TestOrganization, type TestUser } from './seed.js';
import type { TestServer } from './server.js';

/**
 * An organization with one of everything an operation can name (channels of each kind, a thread, a client in
 * their channel with a verified link, a delivery from an unknown sender), the ids of it by kind for filling
 * arguments, and a cursor of every kind the server issues.
 */
export interface World {
  org: TestOrganization;
  staff: TestUser;
  client: TestUser;
  channelId: string;
  threadRootId: string;
  integration: TestIntegration;
  fillers: Fillers;
  /** One issued cursor of each connection: messages, replies, channels, members, users, deliveries. */
  cursors: Record<'messages' | 'replies' | 'channels' | 'members' | 'users' | 'deliveries', string>;
}

export async function seedWorld(server: TestServer): Promise<World> {
  const org = await seedOrganization(server, { users: ['Staff'], clients: ['Client'] });
  const staff = org.users.Staff!;
  const client = org.clients.Client!;
  const publicChannel = await createChannel(server, staff, { members: [org.admin] });
  const privateChannel = await createChannel(server, staff, { channelType: 'PRIVATE', members: [org.admin] });
  const clientChannel = await createChannel(server, staff, { channelType: 'PRIVATE', members: [org.admin] });
  const assignment = await server.app.services.clientAssignments.assign(org.admin.session, {
    clientUserId: client.id,
    channelId: clientChannel.id,
  });
  const root = await send(server, staff, publicChannel.id, 'a thread');
  const reply = await send(server, org.admin, publicChannel.id, 'a reply', root.id);
  const other = await send(server, staff, privateChannel.id, 'private');
  const { integration, link, delivery } = await integrationWithTraffic(server, org, client);

  const page = async (query: string, variables: Record<string, unknown>) => {
    const response = await rawGql(server.graphqlUrl, query, variables, org.admin.token);
    if (response.errors) throw new Error(JSON.stringify(response.errors));
    return response.data!;
  };
  const firstCursor = (connection: unknown) => (connection as { edges: { cursor: string }[] }).edges[0]!.cursor;
  const data = await page(
    `query($channel: ID!, $root: ID!) {
      messages(channelId: $channel, first: 1) { edges { cursor } }
      message(id: $root) { replies(first: 1) { edges { cursor } } }
      channels(first: 1) { edges { cursor } }
      channel(id: $channel) { members(first: 1) { edges { cursor } } }
      users(first: 1) { edges { cursor } }
      webhookDeliveries(first: 1) { edges { cursor } }
    }`,
    { channel: publicChannel.id, root: root.id },
  );
  const cursors = {
    messages: firstCursor(data.messages),
    replies: firstCursor((data.message as { replies: unknown }).replies),
    channels: firstCursor(data.channels),
    members: firstCursor((data.channel as { members: unknown }).members),
    users: firstCursor(data.users),
    deliveries: firstCursor(data.webhookDeliveries),
  };
  return {
    org,
    staff,
    client,
    channelId: publicChannel.id,
    threadRootId: root.id,
    integration,
    cursors,
    fillers: {
      ids: {
        channel: [publicChannel.id, privateChannel.id, clientChannel.id],
        message: [root.id, reply.id, other.id],
        user: [staff.id, client.id],
        member: [staff.id],
        client: [client.id],
        integration: [integration.id],
        delivery: [delivery.id],
        link: [link.id],
        assignment: [assignment.id],
        organization: [org.id],
      },
    },
  };
}
