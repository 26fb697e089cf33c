import type pg from 'pg';
import type { Viewer } from '../../auth/session.js';
import type { ChannelType } from '../../generated/prisma/enums.js';
import { forbidden, notFound } from '../../lib/errors.js';
import type { AccessBusEvent } from '../../realtime/org-events.js';

/** What decides whether a viewer may see and post in one channel. */
export interface ChannelFacts {
  channelId: string;
  channelType: ChannelType;
  isMember: boolean;
  /** The viewer is a client and this is their (active) assigned channel. */
  isAssignedClient: boolean;
  /** Some client is assigned to the channel, so what staff write there goes out to a platform. */
  hasClients: boolean;
}

// The contract's "Roles and visibility": admins see every channel of their organization; staff see public
// channels and the private, direct and client channels they are members of; a client sees only the one
// channel they are assigned to.
export function canRead(viewer: Viewer, facts: ChannelFacts): boolean {
  if (viewer.role === 'ADMIN') return true;
  if (viewer.role === 'CLIENT') return facts.isAssignedClient;
  return facts.channelType === 'PUBLIC' || facts.isMember;
}

// Seeing is not always posting: an admin reads any direct conversation but writes only in their own.
// Staff may post in any public channel (which makes them a member), like joining by speaking.
export function canPost(viewer: Viewer, facts: ChannelFacts): boolean {
  if (viewer.role === 'CLIENT') return facts.isAssignedClient;
  if (facts.isMember || facts.channelType === 'PUBLIC') return true;
  return viewer.role === 'ADMIN' && facts.channelType !== 'DIRECT';
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

/** NOT_FOUND for what the viewer cannot see (it must look exactly like a channel that does not exist). */
export function assertReadable(viewer: Viewer, facts: ChannelFacts | null): ChannelFacts {
  if (!facts || !canRead(viewer, facts)) throw notFound('Channel');
  return facts;
}

export function assertPostable(viewer: Viewer, facts: ChannelFacts | null): ChannelFacts {
  const readable = assertReadable(viewer, facts);
  if (!canPost(viewer, readable)) throw forbidden('You cannot post in this channel');
  return readable;
}

/**
 * Every channel a viewer may see, kept current from access events instead of re-reading: built with one
 * query when a subscription starts, then updated in memory, so fan-out re-checks access per event for free.
 */
export class ViewerChannels {
  private constructor(
    private readonly viewer: Viewer,
    private readonly publicChannels: Set<string>,
    private readonly memberChannels: Set<string>,
    private assignedChannel: string | null,
  ) {}

  static async load(db: pg.Pool, viewer: Viewer): Promise<ViewerChannels> {
    if (viewer.role === 'ADMIN') return new ViewerChannels(viewer, new Set(), new Set(), null);
    const { rows } = await db.query<{ id: string; public: boolean; member: boolean; assigned: boolean }>(
      `SELECT c.id, c.channel_type = 'public' AS public,
              EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = $2) AS member,
              EXISTS (SELECT 1 FROM client_channel_assignments a
                      WHERE a.channel_id = c.id AND a.client_user_id = $2 AND a.is_active) AS assigned
       FROM channels c
       WHERE c.organization_id = $1
         AND (c.channel_type = 'public'
              OR EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = $2)
              OR EXISTS (SELECT 1 FROM client_channel_assignments a
                         WHERE a.channel_id = c.id AND a.client_user_id = $2 AND a.is_active))`,
      [viewer.organizationId, viewer.id],
    );
    return new ViewerChannels(
      viewer,
      new Set(rows.filter((row) => row.public).map((row) => row.id)),
      new Set(rows.filter((row) => row.member).map((row) => row.id)),
      rows.find((row) => row.assigned)?.id ?? null,
    );
  }

  canSee(channelId: string): boolean {
    if (this.viewer.role === 'ADMIN') return true;
    if (this.viewer.role === 'CLIENT') return this.assignedChannel === channelId;
    return this.publicChannels.has(channelId) || this.memberChannels.has(channelId);
  }

  /** The channels to replay from; null means every channel of the organization (admins). */
  visibleChannelIds(): string[] | null {
    if (this.viewer.role === 'ADMIN') return null;
    if (this.viewer.role === 'CLIENT') return this.assignedChannel ? [this.assignedChannel] : [];
    return [...new Set([...this.publicChannels, ...this.memberChannels])];
  }

  apply(event: AccessBusEvent): void {
    switch (event.change) {
      case 'channel':
        if (event.channelType === 'PUBLIC') this.publicChannels.add(event.channelId);
        else this.publicChannels.delete(event.channelId);
        return;
      case 'members-added':
        if (event.userIds.includes(this.viewer.id)) this.memberChannels.add(event.channelId);
        return;
      case 'member-removed':
        if (event.userId === this.viewer.id) this.memberChannels.delete(event.channelId);
        return;
      case 'client-assigned':
        if (event.clientUserId === this.viewer.id) this.assignedChannel = event.channelId;
        return;
    }
  }
}
