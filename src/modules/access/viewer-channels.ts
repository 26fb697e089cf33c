import type pg from 'pg';
import type { Viewer } from '../../auth/session.js';
import type { ChannelChange } from '../events/organization-events.js';
import { canRead } from './channel-rules.js';
import { channelVisibleSql } from './channel-visibility.js';

/**
 * Every channel a viewer may see, kept current from access events instead of re-reading: built with one
 * query when a subscription starts, then updated in memory, so fan-out re-checks access per event for free.
 * It holds the facts the rule needs (which channels are public, which the viewer is a member of, which they are
 * assigned to as a client) and asks the rule itself, canRead, for each channel.
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
       WHERE c.organization_id = $1 AND ${channelVisibleSql('c.id', '$2::uuid', '$3::text')}`,
      [viewer.organizationId, viewer.id, viewer.role],
    );
    return new ViewerChannels(
      viewer,
      new Set(rows.filter((row) => row.public).map((row) => row.id)),
      new Set(rows.filter((row) => row.member).map((row) => row.id)),
      rows.find((row) => row.assigned)?.id ?? null,
    );
  }

  canSee(channelId: string): boolean {
    return canRead(this.viewer, {
      channelId,
      // Private and direct channels are alike to the read rule.
      channelType: this.publicChannels.has(channelId) ? 'PUBLIC' : 'PRIVATE',
      isMember: this.memberChannels.has(channelId),
      isAssignedClient: this.assignedChannel === channelId,
      hasClients: false,
    });
  }

  /** The channels to replay from; null means every channel of the organization (admins). */
  visibleChannelIds(): string[] | null {
    if (this.viewer.role === 'ADMIN') return null;
    const known = new Set([...this.publicChannels, ...this.memberChannels]);
    if (this.assignedChannel) known.add(this.assignedChannel);
    return [...known].filter((channelId) => this.canSee(channelId));
  }

  /** Follows a change to channels or memberships (a role change is a new view: see EventSubscription). */
  apply(event: ChannelChange): void {
    switch (event.change) {
      case 'created':
        if (event.channelType === 'PUBLIC') this.publicChannels.add(event.channelId);
        if (event.memberIds.includes(this.viewer.id)) this.memberChannels.add(event.channelId);
        return;
      case 'updated':
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
      case 'role-changed':
      case 'conversation':
        return;
    }
  }
}
