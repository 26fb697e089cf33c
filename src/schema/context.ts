import type { Session } from '../auth/session.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Services } from '../services.js';
import type { Loaders } from './loaders.js';

/** What every resolver receives; built per HTTP request, and per operation on graphql-ws. */
export interface GraphQLContext {
  session: Session;
  services: Services;
  /** Prisma, for the `query`-spreading root fields of @pothos/plugin-prisma. */
  prisma: PrismaClient;
  /** Batching loaders scoped to this request: one SQL statement per field per page, never one per row. */
  loaders: Loaders;
  requestId: string;
  /** The client's IP address (see client-address.ts), for per-IP limits. */
  clientAddress: string;
}

/** The request id in a context that plugins receive untyped (absent before the context is built). */
export const requestIdIn = (context: unknown): string | undefined =>
  (context as Partial<GraphQLContext> | undefined)?.requestId;
