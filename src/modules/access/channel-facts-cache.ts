import type pg from 'pg';
import type { Viewer } from '../../auth/session.js';
import { type ChannelChange, channelsOf } from '../events/organization-events.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import type { ChannelFacts } from './channel-rules.js';
import { loadChannelFacts } from './channel-visibility.js';

/** How long an entry is trusted without an access event, in case the bus lost one. */
const TTL_MS = 10_000;
const MAX_ENTRIES_PER_ORGANIZATION = 50_000;

interface CachedFacts {
  facts: ChannelFacts | null;
  expiresAt: number;
}

/** What the cache holds for one organization while its users send messages through this instance. */
interface OrganizationCache {
  stopWatching: () => void;
  /** Moved by every access event, so that a read which started before one is not kept. */
  version: number;
  lastUsed: number;
  entries: Map<string, CachedFacts>;
  keysByChannel: Map<string, Set<string>>;
}

/**
 * Channel facts per (user, channel) for the hottest path, sending a message: each instance remembers what it
 * read and forgets a channel's entries the moment an access event of that channel arrives, from any instance.
 * It watches the organization's access events alone, not its hub, so an instance that only takes sends
 * receives none of the organization's message traffic. An organization nobody sent from for a TTL is dropped,
 * watch included, so the cache holds (and listens for) only the organizations in use.
 */
export class ChannelFactsCache {
  private readonly organizations = new Map<string, OrganizationCache>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly deps: { pool: pg.Pool; stream: OrganizationStream }) {
    this.sweepTimer = setInterval(() => this.sweep(), TTL_MS).unref();
  }

  async get(viewer: Viewer, channelId: string): Promise<ChannelFacts | null> {
    const organization = this.organizationOf(viewer.organizationId);
    const key = `${viewer.id}:${channelId}`;
    const now = Date.now();
    organization.lastUsed = now;
    const entry = organization.entries.get(key);
    if (entry && entry.expiresAt > now) return entry.facts;
    // Kept only if every access change after the read began would have reached the cache: not while the
    // watch is being set up or the bus is down, and not when a change arrived during the read.
    const watching = this.deps.stream.isWatchingAccess(viewer.organizationId);
    const version = organization.version;
    const facts = await loadChannelFacts(this.deps.pool, viewer, channelId);
    if (watching && organization.version === version && this.organizations.get(viewer.organizationId) === organization)
      this.remember(organization, key, channelId, facts);
    return facts;
  }

  close(): void {
    clearInterval(this.sweepTimer);
    for (const organizationId of [...this.organizations.keys()]) this.drop(organizationId);
  }

  private organizationOf(organizationId: string): OrganizationCache {
    const existing = this.organizations.get(organizationId);
    if (existing) return existing;
    const organization: OrganizationCache = {
      stopWatching: () => {},
      version: 0,
      lastUsed: Date.now(),
      entries: new Map(),
      keysByChannel: new Map(),
    };
    organization.stopWatching = this.deps.stream.watchAccess(organizationId, (event) =>
      this.forget(organization, event),
    );
    this.organizations.set(organizationId, organization);
    return organization;
  }

  private remember(organization: OrganizationCache, key: string, channelId: string, facts: ChannelFacts | null) {
    if (organization.entries.size >= MAX_ENTRIES_PER_ORGANIZATION) {
      organization.entries.clear();
      organization.keysByChannel.clear();
    }
    organization.entries.set(key, { facts, expiresAt: Date.now() + TTL_MS });
    let keys = organization.keysByChannel.get(channelId);
    if (!keys) organization.keysByChannel.set(channelId, (keys = new Set()));
    keys.add(key);
  }

  private forget(organization: OrganizationCache, event: ChannelChange): void {
    organization.version += 1;
    for (const channelId of channelsOf(event)) {
      for (const key of organization.keysByChannel.get(channelId) ?? []) organization.entries.delete(key);
      organization.keysByChannel.delete(channelId);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [organizationId, organization] of this.organizations) {
      if (now - organization.lastUsed > TTL_MS) this.drop(organizationId);
    }
  }

  private drop(organizationId: string): void {
    const organization = this.organizations.get(organizationId);
    if (!organization) return;
    this.organizations.delete(organizationId);
    organization.stopWatching();
  }
}
