import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import { seedOrganization } from '../support/seed.js';
import { graphql } from '../gql/index.js';
import { AddMembers, RemoveMember, SendMessage } from '../support/documents.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';

const Channels = graphql(`
  query Channels($first: Int, $after: String) {
    channels(first: $first, after: $after) {
      edges {
        node {
          id
          name
          channelType
          isMember
          unreadCount
          memberCount
          lastMessage {
            content
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const ChannelById = graphql(`
  query ChannelById($id: ID!) {
    channel(id: $id) {
      id
      name
      members(first: 10) {
        edges {
          node {
            user {
              id
            }
          }
        }
      }
    }
  }
`);

const OpenDirect = graphql(`
  mutation ChannelsOpenDirect($userId: ID!) {
    openDirectChannel(userId: $userId) {
      id
      channelType
      memberCount
    }
  }
`);

const UpdateChannel = graphql(`
  mutation ChannelsUpdate($input: UpdateChannelInput!) {
    updateChannel(input: $input) {
      id
      name
      channelType
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob', 'Eve'], clients: ['Carol', 'Chris'] } });

const visibleIds = async (token: string) => {
  const data = dataOf(await gql(server().graphqlUrl, Channels, { first: 100 }, { token }));
  return data.channels.edges.map((edge) => edge.node.id);
};

describe('visibility', () => {
  it('shows staff the public channels and their own private ones, admins everything, clients their one channel', async () => {
    const seeded = await seedOrganization(server(), { users: ['Alice', 'Bob'], clients: ['Carol', 'Chris'] });
    const [alice, bob] = [seeded.users.Alice!, seeded.users.Bob!];
    const lobby = await createChannel(server(), alice, { name: 'lobby' });
    const secret = await createChannel(server(), alice, { name: 'secret', channelType: 'PRIVATE' });
    const carolsChannel = await createChannel(server(), alice, {
      name: 'carol support',
      channelType: 'PRIVATE',
      members: [bob],
    });
    const chrisChannel = await createChannel(server(), alice, { name: 'chris support', channelType: 'PRIVATE' });
    const prisma = server().app.db.prisma;
    await prisma.clientChannelAssignment.createMany({
      data: [
        { clientUserId: seeded.clients.Carol!.id, channelId: carolsChannel.id, assignedBy: seeded.admin.id },
        { clientUserId: seeded.clients.Chris!.id, channelId: chrisChannel.id, assignedBy: seeded.admin.id },
      ],
    });

    expect((await visibleIds(bob.token)).sort()).toEqual([lobby.id, carolsChannel.id].sort());
    expect((await visibleIds(alice.token)).sort()).toEqual(
      [lobby.id, secret.id, carolsChannel.id, chrisChannel.id].sort(),
    );
    expect((await visibleIds(seeded.admin.token)).sort()).toEqual(
      [lobby.id, secret.id, carolsChannel.id, chrisChannel.id].sort(),
    );
    expect(await visibleIds(seeded.clients.Carol!.token)).toEqual([carolsChannel.id]);

    // A nullable lookup of what one may not see is null, like an id that does not exist.
    const hidden = dataOf(await gql(server().graphqlUrl, ChannelById, { id: secret.id }, { token: bob.token }));
    expect(hidden.channel).toBeNull();
    const others = dataOf(
      await gql(server().graphqlUrl, ChannelById, { id: chrisChannel.id }, { token: seeded.clients.Carol!.token }),
    );
    expect(others.channel).toBeNull();

    // The client writes in their channel and nowhere else.
    await send(server(), seeded.clients.Carol!, carolsChannel.id, 'hello from a client');
    const elsewhere = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: lobby.id, content: 'x' } },
      { token: seeded.clients.Carol!.token },
    );
    expect(errorCodes(elsewhere)).toEqual(['NOT_FOUND']);
  });

  it('counts unread messages from others since the read position, and shows the last message', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    await send(server(), org().users.Alice!, channel.id, 'one');
    await send(server(), org().users.Bob!, channel.id, 'my own');
    await send(server(), org().users.Alice!, channel.id, 'two');
    const data = dataOf(await gql(server().graphqlUrl, Channels, { first: 100 }, { token: org().users.Bob!.token }));
    const node = data.channels.edges.find((edge) => edge.node.id === channel.id)!.node;
    expect(node).toMatchObject({ isMember: true, unreadCount: 2, memberCount: 2, lastMessage: { content: 'two' } });
  });
});

describe('createChannel, updateChannel and members', () => {
  it('refuses clients, direct types and client members', async () => {
    const asClient = await gql(
      server().graphqlUrl,
      graphql(`
        mutation ChannelsCreateAsClient($input: CreateChannelInput!) {
          createChannel(input: $input) {
            id
          }
        }
      `),
      { input: { name: 'nope' } },
      { token: org().clients.Carol!.token },
    );
    expect(errorCodes(asClient)).toEqual(['FORBIDDEN']);
    const direct = await gql(
      server().graphqlUrl,
      graphql(`
        mutation ChannelsCreateDirect($input: CreateChannelInput!) {
          createChannel(input: $input) {
            id
          }
        }
      `),
      { input: { name: 'dm', channelType: 'DIRECT' } },
      { token: org().users.Alice!.token },
    );
    expect(direct.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.channelType' });
    const withClient = await gql(
      server().graphqlUrl,
      graphql(`
        mutation ChannelsCreateWithClient($input: CreateChannelInput!) {
          createChannel(input: $input) {
            id
          }
        }
      `),
      { input: { name: 'mixed', memberIds: [org().clients.Carol!.id] } },
      { token: org().users.Alice!.token },
    );
    expect(withClient.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.memberIds' });
  });

  it('lets the creator rename and re-type a channel, not others', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const renamed = dataOf(
      await gql(
        server().graphqlUrl,
        UpdateChannel,
        { input: { id: channel.id, name: 'renamed', channelType: 'PRIVATE' } },
        { token: org().users.Alice!.token },
      ),
    );
    expect(renamed.updateChannel).toMatchObject({ name: 'renamed', channelType: 'PRIVATE' });
    const byMember = await gql(
      server().graphqlUrl,
      UpdateChannel,
      { input: { id: channel.id, name: 'mine' } },
      { token: org().users.Bob!.token },
    );
    expect(errorCodes(byMember)).toEqual(['FORBIDDEN']);
  });

  it('adds members idempotently, lets people leave, and lets only admins or the creator remove others', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { channelType: 'PRIVATE' });
    const added = dataOf(
      await gql(
        server().graphqlUrl,
        AddMembers,
        { input: { channelId: channel.id, userIds: [org().users.Bob!.id, org().users.Eve!.id, org().users.Bob!.id] } },
        { token: org().users.Alice!.token },
      ),
    );
    expect(added.addChannelMembers.memberCount).toBe(3);
    const again = dataOf(
      await gql(
        server().graphqlUrl,
        AddMembers,
        { input: { channelId: channel.id, userIds: [org().users.Bob!.id] } },
        { token: org().users.Alice!.token },
      ),
    );
    expect(again.addChannelMembers.memberCount).toBe(3);
    const kick = await gql(
      server().graphqlUrl,
      RemoveMember,
      { input: { channelId: channel.id, userId: org().users.Eve!.id } },
      { token: org().users.Bob!.token },
    );
    expect(errorCodes(kick)).toEqual(['FORBIDDEN']);
    const leave = dataOf(
      await gql(
        server().graphqlUrl,
        RemoveMember,
        { input: { channelId: channel.id, userId: org().users.Bob!.id } },
        { token: org().users.Bob!.token },
      ),
    );
    expect(leave.removeChannelMember.memberCount).toBe(2);
    // Having left a private channel, it no longer exists for Bob.
    const gone = await gql(
      server().graphqlUrl,
      AddMembers,
      { input: { channelId: channel.id, userIds: [org().users.Bob!.id] } },
      { token: org().users.Bob!.token },
    );
    expect(errorCodes(gone)).toEqual(['NOT_FOUND']);
  });
});

describe('access changes', () => {
  it('refuses a removed member at once, although the previous post was just checked', async () => {
    const channel = await createChannel(server(), org().users.Alice!, {
      channelType: 'PRIVATE',
      members: [org().users.Eve!],
    });
    await send(server(), org().users.Eve!, channel.id, 'still a member');
    dataOf(
      await gql(
        server().graphqlUrl,
        RemoveMember,
        { input: { channelId: channel.id, userId: org().users.Eve!.id } },
        { token: org().users.Alice!.token },
      ),
    );
    const refused = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: channel.id, content: 'not any more' } },
      { token: org().users.Eve!.token },
    );
    expect(errorCodes(refused)).toEqual(['NOT_FOUND']);
    dataOf(
      await gql(
        server().graphqlUrl,
        AddMembers,
        { input: { channelId: channel.id, userIds: [org().users.Eve!.id] } },
        { token: org().users.Alice!.token },
      ),
    );
    await send(server(), org().users.Eve!, channel.id, 'back again');
  });
});

describe('openDirectChannel', () => {
  it('returns the one direct channel of a pair, even when both open it at the same moment', async () => {
    const seeded = await seedOrganization(server(), { users: ['Ann', 'Ben'] });
    const [ann, ben] = [seeded.users.Ann!, seeded.users.Ben!];
    const opened = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        index % 2
          ? gql(server().graphqlUrl, OpenDirect, { userId: ben.id }, { token: ann.token })
          : gql(server().graphqlUrl, OpenDirect, { userId: ann.id }, { token: ben.token }),
      ),
    );
    const ids = new Set(opened.map((response) => dataOf(response).openDirectChannel.id));
    expect(ids.size).toBe(1);
    expect(dataOf(opened[0]!).openDirectChannel).toMatchObject({ channelType: 'DIRECT', memberCount: 2 });
    const count = await server().app.db.prisma.channel.count({
      where: { organizationId: seeded.id, channelType: 'DIRECT' },
    });
    expect(count).toBe(1);
  });

  it('refuses clients and unknown users', async () => {
    expect(
      errorCodes(
        await gql(
          server().graphqlUrl,
          OpenDirect,
          { userId: org().clients.Carol!.id },
          { token: org().users.Alice!.token },
        ),
      ),
    ).toEqual(['BAD_USER_INPUT']);
    const unknown = await gql(
      server().graphqlUrl,
      OpenDirect,
      { userId: '00000000-0000-4000-8000-000000000000' },
      { token: org().users.Alice!.token },
    );
    expect(errorCodes(unknown)).toEqual(['NOT_FOUND']);
  });
});
