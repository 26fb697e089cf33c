/**
 * The `query` (include/select) that @pothos/plugin-prisma computes from a GraphQL selection. Services take it
 * as an opaque object and spread it into their Prisma call, so a resolver's nested selection is loaded in the
 * same round of queries while tenancy filters stay in the service. Typed as `object` on purpose: the service's
 * return type stays the plain model, which is what the schema's resolvers expect.
 */
export type PrismaSelection = object;
