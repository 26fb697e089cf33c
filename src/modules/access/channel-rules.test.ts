import { describe, expect, it } from '@jest/globals';
import type { Viewer } from '../../auth/session.js';
import type { ChannelType, UserRole } from '../../generated/prisma/enums.js';
import { canPost, canRead, type ChannelFacts } from './channel-rules.js';

const viewer = (role: UserRole): Viewer => ({ id: 'v', organizationId: 'o', role });
const facts = (channelType: ChannelType, isMember = false, isAssignedClient = false): ChannelFacts => ({
  channelId: 'c',
  channelType,
  isMember,
  isAssignedClient,
  hasClients: isAssignedClient,
});

describe('channel access rules', () => {
  it.each([
    // role, type, member, assigned client → read, post
    ['ADMIN', 'PUBLIC', false, false, true, true],
    ['ADMIN', 'PRIVATE', false, false, true, true],
    ['ADMIN', 'DIRECT', false, false, true, false],
    ['ADMIN', 'DIRECT', true, false, true, true],
    ['USER', 'PUBLIC', false, false, true, true],
    ['USER', 'PRIVATE', false, false, false, false],
    ['USER', 'PRIVATE', true, false, true, true],
    ['USER', 'DIRECT', true, false, true, true],
    ['CLIENT', 'PUBLIC', false, false, false, false],
    ['CLIENT', 'PRIVATE', true, false, false, false],
    ['CLIENT', 'PRIVATE', false, true, true, true],
  ] as const)(
    '%s in a %s channel (member %s, assigned %s): read %s, post %s',
    (role, type, member, assigned, read, post) => {
      expect(canRead(viewer(role), facts(type, member, assigned))).toBe(read);
      expect(canPost(viewer(role), facts(type, member, assigned))).toBe(post);
    },
  );
});
