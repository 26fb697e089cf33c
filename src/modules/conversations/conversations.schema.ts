import { ConversationChangeKind, ConversationStatus } from '../../generated/prisma/enums.js';
import { badInput } from '../../lib/errors.js';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { DEFAULT_PAGE_SIZE, pageArgsSchema } from '../../schema/pagination.js';
import { seesStaffOnly } from '../access/channel-rules.js';
import { membershipsOf } from '../channels/channels.schema.js';
import { PlatformEnum } from '../integrations/integrations.schema.js';
import { MessageRef, requestDetails, userById } from '../messages/messages.schema.js';
import { UserType } from '../users/users.schema.js';
import { conversationCursorSchema } from './conversation-cursor.js';
import type { ConversationRow } from './conversations.service.js';

export const ConversationStatusEnum = builder.enumType(ConversationStatus, { name: 'ConversationStatus' });
const ConversationChangeKindEnum = builder.enumType(ConversationChangeKind, { name: 'ConversationChangeKind' });

/** The channel's client, read the same way by every field that needs it, so Prisma reads it once. */
const activeClient = {
  clientAssignments: { where: { isActive: true }, take: 1, select: { client: true } },
} as const;

const TIMELINE_LIMIT = 200;

const ConversationChangeRef = builder.prismaObject('ConversationChange', {
  description: "One change of a client conversation's status or assignee: the conversation's timeline.",
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: ConversationChangeKindEnum }),
    status: t.expose('status', { type: ConversationStatusEnum, description: 'The status after the change.' }),
    assignee: t.relation('assignee', { nullable: true, description: 'The assignee after the change.' }),
    changedBy: t.relation('actor', {
      nullable: true,
      description: 'Who made it: staff, or the client whose message reopened the conversation.',
    }),
    at: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectFields('Channel', (t) => ({
  client: t.field({
    type: UserType,
    nullable: true,
    description: 'The client of a client conversation (a channel has at most one); null for staff channels.',
    select: activeClient,
    resolve: (channel) => channel.clientAssignments[0]?.client ?? null,
  }),
  conversationStatus: t.field({
    type: ConversationStatusEnum,
    nullable: true,
    description: 'Where a client conversation stands (staff only); null for staff channels and for clients.',
    select: { ...activeClient, conversationStatus: true },
    resolve: (channel, _args, context) =>
      channel.clientAssignments.length > 0 && seesStaffOnly(context.session.viewer) ? channel.conversationStatus : null,
  }),
  assignee: t.field({
    type: UserType,
    nullable: true,
    description: 'Who on the staff handles this client conversation (staff only).',
    select: { ...activeClient, assignee: true },
    resolve: (channel, _args, context) =>
      channel.clientAssignments.length > 0 && seesStaffOnly(context.session.viewer) ? channel.assignee : null,
  }),
  conversationTimeline: t.field({
    type: [ConversationChangeRef],
    description: `Every change of the conversation's status and assignee, oldest first (the latest ${TIMELINE_LIMIT}; staff only).`,
    select: {
      conversationChanges: {
        include: { actor: true, assignee: true },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: TIMELINE_LIMIT,
      },
    },
    resolve: (channel, _args, context) =>
      seesStaffOnly(context.session.viewer) ? [...channel.conversationChanges].reverse() : [],
  }),
}));

const ConversationRef = builder.objectRef<ConversationRow>('Conversation').implement({
  description: 'A client conversation as the inbox lists it.',
  fields: (t) => ({
    channel: t.prismaField({
      type: 'Channel',
      resolve: (query, conversation, _args, context) =>
        context.prisma.channel.findUniqueOrThrow({ ...query, where: { id: conversation.channelId } }),
    }),
    client: t.field({
      type: UserType,
      resolve: (conversation, _args, context) => userById(requestDetails(context), conversation.clientUserId),
    }),
    platform: t.field({
      type: PlatformEnum,
      nullable: true,
      description: 'Where the client last wrote from (where replies go); null without a verified link.',
      resolve: (conversation) => conversation.platform,
    }),
    status: t.field({ type: ConversationStatusEnum, resolve: (conversation) => conversation.status }),
    assignee: t.field({
      type: UserType,
      nullable: true,
      resolve: (conversation, _args, context) =>
        conversation.assigneeId ? userById(requestDetails(context), conversation.assigneeId) : null,
    }),
    lastActivityAt: t.expose('lastActivityAt', { type: 'DateTime' }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      resolve: (conversation, _args, context) => requestDetails(context).lastMessages.get(conversation.channelId),
    }),
    unreadCount: t.int({
      description: "Messages from others after the viewer's read position (0 when not a member).",
      resolve: async (conversation, _args, context) =>
        (await membershipsOf(context).load(conversation.channelId))?.unreadCount ?? 0,
    }),
  }),
});

const ConversationConnection = builder.connectionObject(
  { type: ConversationRef, name: 'ConversationConnection' },
  { name: 'ConversationEdge' },
);

builder.queryField('conversations', (t) =>
  t.connection(
    {
      type: ConversationRef,
      description:
        'The client conversations the viewer may read (staff), latest activity first, optionally of one status ' +
        'and assignee. Pages forward: `first` and `after`.',
      args: {
        status: t.arg({ type: ConversationStatusEnum }),
        assigneeId: t.arg.id({ validate: uuid.nullish() }),
      },
      validate: pageArgsSchema(conversationCursorSchema).loose(),
      resolve: async (_root, args, context) => {
        if (args.last != null || args.before != null)
          throw badInput(args.last != null ? 'last' : 'before', 'conversations page forward only (first, after)');
        const page = await context.services.conversations.inbox(context.session, {
          status: args.status ?? null,
          assigneeId: args.assigneeId == null ? null : String(args.assigneeId),
          first: args.first ?? DEFAULT_PAGE_SIZE,
          after: args.after ?? null,
        });
        const edges = page.conversations.map((node) => ({ cursor: node.cursor, node }));
        return {
          edges,
          pageInfo: {
            hasNextPage: page.hasNextPage,
            hasPreviousPage: args.after != null,
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
        };
      },
    },
    ConversationConnection,
  ),
);

const SetConversationStatusInput = builder.inputType('SetConversationStatusInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    status: t.field({ type: ConversationStatusEnum, required: true }),
  }),
});

const AssignConversationInput = builder.inputType('AssignConversationInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    assigneeId: t.id({
      validate: uuid.nullish(),
      description: 'A staff member who can read the channel; null to unassign.',
    }),
  }),
});

builder.mutationFields((t) => ({
  setConversationStatus: t.prismaField({
    type: 'Channel',
    description: "Sets a client conversation's status (staff who may post in it); announced as a channel UPDATED.",
    args: { input: t.arg({ type: SetConversationStatusInput, required: true }) },
    resolve: async (query, _root, { input }, context) => {
      const channelId = String(input.channelId);
      await context.services.conversations.setStatus(context.session, { channelId, status: input.status });
      return context.prisma.channel.findUniqueOrThrow({ ...query, where: { id: channelId } });
    },
  }),
  assignConversation: t.prismaField({
    type: 'Channel',
    description:
      'Hands a client conversation to a staff member who can already read it (else BAD_USER_INPUT), or to ' +
      'nobody; announced as a channel UPDATED.',
    args: { input: t.arg({ type: AssignConversationInput, required: true }) },
    resolve: async (query, _root, { input }, context) => {
      const channelId = String(input.channelId);
      await context.services.conversations.assign(context.session, {
        channelId,
        assigneeId: input.assigneeId == null ? null : String(input.assigneeId),
      });
      return context.prisma.channel.findUniqueOrThrow({ ...query, where: { id: channelId } });
    },
  }),
}));
