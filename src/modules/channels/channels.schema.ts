import { prismaConnectionHelpers } from '@pothos/plugin-prisma';
import { z } from 'zod';
import { ChannelType } from '../../generated/prisma/enums.js';
import { badInput } from '../../lib/errors.js';
import { description, uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import type { GraphQLContext } from '../../schema/context.js';
import {
  assertCursorInList,
  idCursor,
  NOT_ISSUED,
  pageArgsSchema,
  pairCursor,
  recordCursorKey,
} from '../../schema/pagination.js';
import { MessageRef, requestDetails } from '../messages/messages.schema.js';

export const ChannelTypeEnum = builder.enumType(ChannelType, { name: 'ChannelType' });

export const membershipsOf = (context: GraphQLContext) =>
  context.loaders.once('memberships', () => context.services.readState.membershipLoader(context.session.viewer));

const channelName = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(80, { error: 'must be at most 80 characters' });

builder.prismaObject('ChannelMember', {
  fields: (t) => ({
    user: t.relation('user'),
    joinedAt: t.expose('joinedAt', { type: 'DateTime' }),
    lastReadAt: t.expose('lastReadAt', { type: 'DateTime', nullable: true }),
  }),
});

const memberPages = prismaConnectionHelpers(builder, 'ChannelMember', { cursor: 'channelId_userId' });

builder.prismaObject('Channel', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', { nullable: true, description: 'Null for direct channels.' }),
    description: t.exposeString('description', { nullable: true }),
    channelType: t.expose('channelType', { type: ChannelTypeEnum }),
    createdBy: t.relation('creator'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    memberCount: t.relationCount('members'),
    members: t.connection(
      {
        type: memberPages.ref,
        validate: pageArgsSchema(pairCursor),
        select: (args, context, nestedSelection) => ({
          members: {
            ...memberPages.getQuery(args, context, nestedSelection),
            orderBy: [{ joinedAt: 'asc' }, { userId: 'asc' }],
          },
        }),
        resolve: (channel, args, context) => {
          // A member cursor holds its channel's id: another channel's cursor was not issued for this list.
          const cursor = args.after ?? args.before;
          if (cursor != null && (recordCursorKey(cursor) as string[])[0] !== channel.id)
            throw badInput(args.after != null ? 'after' : 'before', NOT_ISSUED);
          return memberPages.resolve(channel.members, args, context, channel);
        },
      },
      { name: 'ChannelMemberConnection' },
      { name: 'ChannelMemberEdge' },
    ),
    isMember: t.boolean({
      description: 'Whether the viewer is a member (members get unread counts and read positions).',
      resolve: async (channel, _args, context) => Boolean(await membershipsOf(context).load(channel.id)),
    }),
    unreadCount: t.int({
      description: "Messages from others after the viewer's read position (0 when not a member).",
      resolve: async (channel, _args, context) => (await membershipsOf(context).load(channel.id))?.unreadCount ?? 0,
    }),
    mentionCount: t.int({
      description: 'Unread messages (see unreadCount) that mention the viewer (0 when not a member).',
      resolve: async (channel, _args, context) => (await membershipsOf(context).load(channel.id))?.mentionCount ?? 0,
    }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      resolve: (channel, _args, context) => requestDetails(context).lastMessages.get(channel.id),
    }),
  }),
});

const ChannelOrderEnum = builder.enumType('ChannelOrder', {
  values: {
    CREATED: { description: 'Oldest first.' },
    ACTIVITY: { description: 'Latest activity first (the newest message; channels without any last), as a sidebar.' },
  },
});

builder.queryFields((t) => ({
  channels: t.prismaConnection(
    {
      type: 'Channel',
      cursor: 'id',
      description: 'The channels the viewer may see, oldest first, or by latest activity.',
      args: { orderBy: t.arg({ type: ChannelOrderEnum, defaultValue: 'CREATED' }) },
      validate: pageArgsSchema(idCursor).loose(),
      resolve: async (query, _root, args, context) => {
        if (args.orderBy === 'ACTIVITY') {
          if (args.last != null || args.before != null)
            throw badInput(
              args.last != null ? 'last' : 'before',
              'channels by activity are paged forward (first, after)',
            );
          const { cursor, take, skip: _skip, ...selection } = query;
          const ids = await context.services.channels.idsByActivity(context.session, {
            afterId: (cursor as { id?: string } | undefined)?.id ?? null,
            take: Math.abs(take),
          });
          if (!ids) throw badInput('after', NOT_ISSUED);
          const rows = await context.prisma.channel.findMany({ ...selection, where: { id: { in: ids } } });
          const byId = new Map(rows.map((row) => [row.id, row]));
          return ids.flatMap((id) => byId.get(id) ?? []);
        }
        const where = context.services.channels.listWhere(context.session);
        await assertCursorInList(args, query.cursor, (key) =>
          context.prisma.channel.findFirst({ where: { AND: [where, key] }, select: { id: true } }),
        );
        return context.prisma.channel.findMany({ ...query, where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      },
    },
    { name: 'ChannelConnection' },
    { name: 'ChannelEdge' },
  ),
  channel: t.prismaField({
    type: 'Channel',
    nullable: true,
    description: 'A channel the viewer may see; null otherwise (including for other organizations).',
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, args, context) => context.services.channels.find(context.session, String(args.id), query),
  }),
}));

const CreateChannelInput = builder.inputType('CreateChannelInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: channelName }),
    description: t.string({ validate: description }),
    channelType: t.field({ type: ChannelTypeEnum, defaultValue: 'PUBLIC', description: 'PUBLIC or PRIVATE.' }),
    memberIds: t.idList({ validate: z.array(uuid).max(1000) }),
  }),
});

const UpdateChannelInput = builder.inputType('UpdateChannelInput', {
  fields: (t) => ({
    id: t.id({ required: true, validate: uuid }),
    name: t.string({ validate: channelName }),
    description: t.string({ validate: description.nullable() }),
    channelType: t.field({ type: ChannelTypeEnum }),
  }),
});

const ChannelMembersInput = builder.inputType('AddChannelMembersInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    userIds: t.idList({ required: true, validate: z.array(uuid).min(1).max(1000) }),
  }),
});

const RemoveChannelMemberInput = builder.inputType('RemoveChannelMemberInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    userId: t.id({ required: true, validate: uuid }),
  }),
});

builder.mutationFields((t) => ({
  createChannel: t.prismaField({
    type: 'Channel',
    description: 'Creates a public or private channel; the creator is a member (staff and admins).',
    args: { input: t.arg({ type: CreateChannelInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.channels.create(
        context.session,
        { ...input, channelType: input.channelType ?? 'PUBLIC', memberIds: input.memberIds?.map(String) },
        query,
      ),
  }),
  updateChannel: t.prismaField({
    type: 'Channel',
    args: { input: t.arg({ type: UpdateChannelInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.channels.update(context.session, { ...input, id: String(input.id) }, query),
  }),
  addChannelMembers: t.prismaField({
    type: 'Channel',
    args: { input: t.arg({ type: ChannelMembersInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.channels.addMembers(
        context.session,
        { channelId: String(input.channelId), userIds: input.userIds.map(String) },
        query,
      ),
  }),
  removeChannelMember: t.prismaField({
    type: 'Channel',
    description: 'Removes someone from a channel (admins and the creator), or leaves it (yourself).',
    args: { input: t.arg({ type: RemoveChannelMemberInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.channels.removeMember(
        context.session,
        { channelId: String(input.channelId), userId: String(input.userId) },
        query,
      ),
  }),
  openDirectChannel: t.prismaField({
    type: 'Channel',
    description: 'The direct channel with another staff member, created on first use; always the same one.',
    args: { userId: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, args, context) =>
      context.services.channels.openDirect(context.session, String(args.userId), query),
  }),
}));
