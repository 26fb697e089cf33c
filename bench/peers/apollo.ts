// An Apollo Server + graphql-ws + graphql-redis-subscriptions server written the way Apollo's documentation
// shows (schema-first with @graphql-tools/schema, Express, a WebSocketServer beside it), for `BENCH_ONLY=peers`.
// The same operations and shapes as ours, so the same bench client drives both.
import { createServer } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express from 'express';
import { DateTimeResolver } from 'graphql-scalars';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { useServer } from 'graphql-ws/use/ws';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import type { User } from '../../src/generated/prisma/client.js';
import {
  assertMember,
  createMessage,
  messageCreatedEvent,
  type MessageCreatedEvent,
  port,
  reactionSummaries,
  viewerFromAuthorization,
} from './usual-data.js';

interface Context {
  viewer: User;
}

const pubSub = new RedisPubSub({
  publisher: new Redis(process.env.REDIS_URL!),
  subscriber: new Redis(process.env.REDIS_URL!),
});

const typeDefs = `#graphql
  scalar DateTime
  type User { id: ID! displayName: String! avatarUrl: String }
  type ReactionSummary { emoji: String! count: Int! viewerReacted: Boolean! }
  type Message {
    id: ID!
    content: String
    createdAt: DateTime!
    cursor: String!
    author: User!
    reactions: [ReactionSummary!]!
    replyCount: Int!
  }
  enum MessageEventKind { CREATED UPDATED DELETED }
  type MessageEvent { kind: MessageEventKind! cursor: String! message: Message! }
  input SendMessageInput { channelId: ID! content: String! }
  type Query { me: User! }
  type Mutation { sendMessage(input: SendMessageInput!): Message! }
  type Subscription { messageEvents(channelId: ID!, after: String): MessageEvent! }
`;

type MessageParent = MessageCreatedEvent['message'];

const resolvers = {
  DateTime: DateTimeResolver,
  Query: { me: (_root: unknown, _args: unknown, context: Context) => context.viewer },
  Mutation: {
    sendMessage: async (
      _root: unknown,
      { input }: { input: { channelId: string; content: string } },
      context: Context,
    ) => {
      const message = await createMessage(context.viewer, input);
      await pubSub.publish(`messageEvents.${message.channelId}`, messageCreatedEvent(message));
      return message;
    },
  },
  Subscription: {
    messageEvents: {
      subscribe: async (_root: unknown, { channelId }: { channelId: string }, context: Context) => {
        await assertMember(context.viewer, channelId);
        return pubSub.asyncIterableIterator(`messageEvents.${channelId}`);
      },
      resolve: (event: MessageCreatedEvent) => event,
    },
  },
  Message: {
    cursor: (message: MessageParent) => message.id,
    author: (message: MessageParent) => message.user,
    reactions: (message: MessageParent, _args: unknown, context: Context) =>
      reactionSummaries(message.reactions, context.viewer.id),
    replyCount: (message: MessageParent) => message._count.replies,
  },
};

const schema = makeExecutableSchema({ typeDefs, resolvers });
const app = express();
const httpServer = createServer(app);
const sockets = new WebSocketServer({ server: httpServer, path: '/graphql' });
const socketServer = useServer(
  {
    schema,
    context: async (context) => ({ viewer: await viewerFromAuthorization(context.connectionParams?.authorization) }),
  },
  sockets,
);
const apollo = new ApolloServer<Context>({
  schema,
  plugins: [
    ApolloServerPluginDrainHttpServer({ httpServer }),
    { serverWillStart: async () => ({ drainServer: async () => socketServer.dispose() }) },
  ],
});
await apollo.start();
app.use(
  '/graphql',
  express.json(),
  expressMiddleware(apollo, {
    context: async ({ req }) => ({ viewer: await viewerFromAuthorization(req.headers.authorization) }),
  }),
);
httpServer.listen(port, '127.0.0.1');
process.on('SIGTERM', () => apollo.stop().then(() => process.exit(0)));
