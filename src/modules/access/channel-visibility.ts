import type pg from 'pg';
import type { Viewer } from '../../auth/session.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { type ChannelFacts, seesStaffOnly } from './channel-rules.js';

// canRead (channel-rules.ts) for statements over many channels: as SQL and as a Prisma filter. Both are
// checked against canRead for every viewer and channel of generated organizations (channel-visibility.test).

/**
 * SQL that is true when the channel whose id is the expression `channel` is visible to the viewer whose id and
 * role (`'ADMIN'`, `'USER'`, `'CLIENT'`) are the expressions `viewerId` and `role` (parameters, say). The
 * channel must already be known to be of the viewer's organization.
 */
export function channelVisibleSql(channel: string, viewerId: string, role: string): string {
  // Aliases of their own, so that `channel` may name a column of an outer `c`, `a` or `cm`.
  return `(
    ${role} = 'ADMIN'
    OR (${role} = 'CLIENT' AND EXISTS (SELECT 1 FROM client_channel_assignments visible_a
                                       WHERE visible_a.channel_id = ${channel} AND visible_a.client_user_id = ${viewerId}
                                         AND visible_a.is_active))
    OR (${role} = 'USER' AND EXISTS (SELECT 1 FROM channels visible_c WHERE visible_c.id = ${channel}
                                     AND (visible_c.channel_type = 'public'
                                          OR EXISTS (SELECT 1 FROM channel_members visible_cm
                                                     WHERE visible_cm.channel_id = visible_c.id
                                                       AND visible_cm.user_id = ${viewerId}))))
  )`;
}

/** The Prisma filter for the channels a viewer may see. */
export function visibleChannelsWhere(viewer: Viewer): Prisma.ChannelWhereInput {
  const organizationId = viewer.organizationId;
  if (viewer.role === 'ADMIN') return { organizationId };
  if (viewer.role === 'CLIENT') {
    return { organizationId, clientAssignments: { some: { clientUserId: viewer.id, isActive: true } } };
  }
  return { organizationId, OR: [{ channelType: 'PUBLIC' }, { members: { some: { userId: viewer.id } } }] };
}

/** The facts for one viewer and channel in their organization, or null when there is no such channel. */
export async function loadChannelFacts(
  db: pg.Pool | pg.PoolClient,
  viewer: Viewer,
  channelId: string,
): Promise<ChannelFacts | null> {
  const { rows } = await db.query<ChannelFacts>({
    // Prepared once per connection: it runs before every message sent.
    name: 'channel-facts',
    text: `SELECT c.id AS "channelId", upper(c.channel_type::text) AS "channelType",
            EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = $2) AS "isMember",
            EXISTS (SELECT 1 FROM client_channel_assignments a
                    WHERE a.channel_id = c.id AND a.client_user_id = $2 AND a.is_active) AS "isAssignedClient",
            EXISTS (SELECT 1 FROM client_channel_assignments a WHERE a.channel_id = c.id AND a.is_active) AS "hasClients"
     FROM channels c WHERE c.id = $1 AND c.organization_id = $3`,
    values: [channelId, viewer.id, viewer.organizationId],
  });
  return rows[0] ?? null;
}

/**
 * canSeeMessage (channel-rules.ts) as a SQL condition on the messages row aliased `message`, for statements
 * that read many messages of channels the viewer may read.
 */
export const messageVisibleSql = (viewer: Viewer, message = 'm'): string =>
  seesStaffOnly(viewer) ? 'TRUE' : `NOT ${message}.internal`;
