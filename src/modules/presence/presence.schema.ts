import { builder } from '../../schema/builder.js';
import type { GraphQLContext } from '../../schema/context.js';
import { PresenceEnum } from '../events/events.schema.js';
import { UserType } from '../users/users.schema.js';

/** The request's presence reads, one per page of users. */
const presenceOf = (context: GraphQLContext, user: { id: string; organizationId: string }) =>
  context.loaders
    .get<
      string,
      Awaited<ReturnType<typeof context.services.presence.presenceOf>> extends Map<string, infer V> ? V : never
    >('presence', async (ids) => {
      const found = await context.services.presence.presenceOf(user.organizationId, ids);
      return ids.map((id) => found.get(id)!);
    })
    .load(user.id);

builder.objectFields(UserType, (t) => ({
  presence: t.field({
    type: PresenceEnum,
    description: 'ONLINE while the user holds a connection on any instance (AWAY when idle for a while), else OFFLINE.',
    resolve: async (user, _args, context) => (await presenceOf(context, user)).presence,
  }),
  lastSeenAt: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'When the user was last connected (now, while they are).',
    resolve: async (user, _args, context) => {
      const now = await presenceOf(context, user);
      return now.presence === 'OFFLINE' ? user.lastSeenAt : now.lastSeenAt;
    },
  }),
}));
