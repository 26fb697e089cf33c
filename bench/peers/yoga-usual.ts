// A graphql-yoga + Pothos + Prisma server written the way those projects' documentation shows, for
// `BENCH_ONLY=peers`: code-first types with @pothos/plugin-prisma, `createPubSub` over Redis
// (@graphql-yoga/redis-event-target), graphql-ws through `getEnveloped`, each subscriber's event executed on
// its own. The same operations and shapes as ours, so the same bench client drives both.
import { createServer } from 'node:http';
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { DateTimeResolver } from 'graphql-scalars';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createYoga } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import type PrismaTypes from '../../src/generated/pothos-prisma-types.js';
import { getDatamodel } from '../../src/generated/pothos-prisma-types.js';
import type { User } from '../../src/generated/prisma/client.js';
import {
  assertMember,
  createMessage,
  messageCreatedEvent,
  type MessageCreatedEvent,
  port,
  prisma,
  reactionSummaries,
  viewerFromAuthorization,
} from './usual-data.js';

const pubSub = createPubSub<{ messageEvents: [channelId: string, event: MessageCreatedEvent] }>({
  eventTarget: createRedisEventTarget({
    publishClient: new Redis(process.env.REDIS_URL!),
    subscribeClient: new Redis(process.env.REDIS_URL!),
  }),
});

const builder = new SchemaBuilder<{
  PrismaTypes: PrismaTypes;
  Context: { viewer: User };
  Scalars: { DateTime: { Input: Date; Output: Date | string } };
}>({
  plugins: [PrismaPlugin],
  prisma: { client: prisma, dmmf: getDatamodel() },
});

builder.addScalarType('DateTime', DateTimeResolver);

builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    displayName: t.exposeString('displayName'),
    avatarUrl: t.exposeString('avatarUrl', { nullable: true }),
  }),
});

const ReactionSummary = builder
  .objectRef<{ emoji: string; count: number; viewerReacted: boolean }>('ReactionSummary')
  .implement({
    fields: (t) => ({
      emoji: t.exposeString('emoji'),
      count: t.exposeInt('count'),
      viewerReacted: t.exposeBoolean('viewerReacted'),
    }),
  });

const Message = builder.prismaObject('Message', {
  fields: (t) => ({
    id: t.exposeID('id'),
    content: t.exposeString('content', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    cursor: t.string({ resolve: (message) => message.id }),
    author: t.relation('user'),
    reactions: t.field({
      type: [ReactionSummary],
      select: { reactions: true },
      resolve: (message, _args, context) => reactionSummaries(message.reactions, context.viewer.id),
    }),
    replyCount: t.relationCount('replies'),
  }),
});

const MessageEventKind = builder.enumType('MessageEventKind', { values: ['CREATED', 'UPDATED', 'DELETED'] as const });

const MessageEvent = builder.objectRef<MessageCreatedEvent>('MessageEvent').implement({
  fields: (t) => ({
    kind: t.field({ type: MessageEventKind, resolve: (event) => event.kind }),
    cursor: t.exposeString('cursor'),
    // The published row with its relations, parsed from JSON; Pothos resolves the relation fields of an object
    // it did not load itself the way its documentation describes (its own fallback).
    message: t.field({ type: Message, resolve: (event) => event.message as never }),
  }),
});

const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({ channelId: t.id({ required: true }), content: t.string({ required: true }) }),
});

builder.queryType({
  fields: (t) => ({ me: t.prismaField({ type: 'User', resolve: (_query, _root, _args, context) => context.viewer }) }),
});

builder.mutationType({
  fields: (t) => ({
    sendMessage: t.prismaField({
      type: 'Message',
      args: { input: t.arg({ type: SendMessageInput, required: true }) },
      resolve: async (_query, _root, { input }, context) => {
        const message = await createMessage(context.viewer, {
          channelId: String(input.channelId),
          content: input.content,
        });
        pubSub.publish('messageEvents', message.channelId, messageCreatedEvent(message));
        return message;
      },
    }),
  }),
});

builder.subscriptionType({
  fields: (t) => ({
    messageEvents: t.field({
      type: MessageEvent,
      args: { channelId: t.arg.id({ required: true }), after: t.arg.string() },
      subscribe: async (_root, { channelId }, context) => {
        await assertMember(context.viewer, String(channelId));
        return pubSub.subscribe('messageEvents', String(channelId));
      },
      resolve: (event) => event,
    }),
  }),
});

const yoga = createYoga<{ connectionParams?: { authorization?: string } }>({
  schema: builder.toSchema(),
  graphiql: false,
  context: async ({ request, connectionParams }) => ({
    viewer: await viewerFromAuthorization(connectionParams?.authorization ?? request.headers.get('authorization')),
  }),
});

const server = createServer(yoga);
const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
useServer(
  {
    execute: (args: any) => args.rootValue.execute(args),
    subscribe: (args: any) => args.rootValue.subscribe(args),
    onSubscribe: async (context, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...context,
        req: context.extra.request,
        socket: context.extra.socket,
        params,
      });
      const args = {
        schema,
        operationName: params.operationName,
        document: parse(params.query),
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      const errors = validate(args.schema, args.document);
      return errors.length ? errors : args;
    },
  },
  sockets,
);
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
