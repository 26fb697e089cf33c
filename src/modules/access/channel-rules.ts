import type { Viewer } from '../../auth/session.js';
import type { ChannelType } from '../../generated/prisma/enums.js';
import { badInput, forbidden, notFound } from '../../lib/errors.js';

// The contract's "Roles and visibility", written once. Admins see every channel of their organization; staff
// see public channels and the private, direct and client channels they are members of; a client sees only the
// one channel they are assigned to. Where many channels are filtered at once, the same rule is SQL and a Prisma
// filter (channel-visibility.ts); a property test over generated organizations proves the three agree.

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

// Staff-only parts of a client conversation: internal notes, and its status, assignee and timeline. A client
// never sees them, wherever they would show (history, events, replays, last messages, unread counts).
export const seesStaffOnly = (viewer: Viewer): boolean => viewer.role !== 'CLIENT';

/**
 * The viewer may change a client conversation's status or assignee: staff who may post in the channel, and
 * the channel is a client conversation (BAD_USER_INPUT naming `field` for a staff channel).
 */
export function assertConversationManageable(viewer: Viewer, facts: ChannelFacts | null, field: string): ChannelFacts {
  const postable = assertPostable(viewer, facts);
  if (!seesStaffOnly(viewer)) throw forbidden('Only staff manage conversations');
  if (!postable.hasClients) throw badInput(field, 'is not a client conversation (no client is assigned to it)');
  return postable;
}

/** Whether the viewer, who may read the message's channel, may see the message: internal notes are staff-only. */
export const canSeeMessage = (viewer: Viewer, message: { internal: boolean }): boolean =>
  !message.internal || seesStaffOnly(viewer);
