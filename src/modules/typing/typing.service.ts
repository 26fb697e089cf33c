import type { Session } from '../../auth/session.js';
import { assertPostable } from '../access/channel-rules.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { OrganizationStream } from '../events/organization-stream.js';

/** A repeated "still typing" is passed on at most this often per person and channel (typing lasts 6 s). */
const REFRESH_MS = 2_000;
const FORGET_AFTER_MS = 60_000;

export interface TypingServiceDeps {
  channels: Pick<ChannelService, 'cachedFacts'>;
  stream: OrganizationStream;
}

/**
 * Typing indicators: never stored, passed to the channel's other readers on every instance. Whoever may post in a
 * channel may say they are typing in it; a client that signals faster than anyone could read is coalesced, so it
 * cannot flood a channel (the mutation rate limits bound it further).
 */
export class TypingService {
  private readonly lastPassedOn = new Map<string, { typing: boolean; at: number }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly deps: TypingServiceDeps) {
    this.sweep = setInterval(() => {
      const before = Date.now() - FORGET_AFTER_MS;
      for (const [key, last] of this.lastPassedOn) if (last.at < before) this.lastPassedOn.delete(key);
    }, FORGET_AFTER_MS);
    this.sweep.unref();
  }

  async setTyping(session: Session, input: { channelId: string; typing: boolean }): Promise<boolean> {
    const viewer = session.viewer;
    assertPostable(viewer, await this.deps.channels.cachedFacts(viewer, input.channelId));
    const key = `${viewer.id}:${input.channelId}`;
    const now = Date.now();
    const last = this.lastPassedOn.get(key);
    if (last && last.typing === input.typing && (!input.typing || now - last.at < REFRESH_MS)) return input.typing;
    this.lastPassedOn.set(key, { typing: input.typing, at: now });
    await this.deps.stream.publish(viewer.organizationId, {
      type: 'typing',
      channelId: input.channelId,
      userId: viewer.id,
      typing: input.typing,
    });
    return input.typing;
  }

  close(): void {
    clearInterval(this.sweep);
  }
}
