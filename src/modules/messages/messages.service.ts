import type { Session, Viewer } from '../../auth/session.js';
import type { MessageSource, MessageType } from '../../generated/prisma/enums.js';
import { badInput, forbidden, notFound } from '../../lib/errors.js';
import type { MessageEventKind } from '../../realtime/org-events.js';
import type { ServiceDeps } from '../../services.js';
import {
  assertPostable,
  assertReadable,
  canRead,
  type ChannelFacts,
  loadChannelFacts,
} from '../channels/channel-access.js';
import type { ChannelService } from '../channels/channels.service.js';
import { type Page, type PageRequest, readPage } from './message-history.js';
import { acceptsResponses, MESSAGE_COLUMNS, type MessageRecord, refusedResponse, toWire } from './message-record.js';
import type { InsertOutcome, MessageDraft } from './message-writer.js';

export interface SendMessageInput {
  channelId: string;
  content?: string | null;
  messageType?: MessageType | null;
  metadata?: unknown;
  threadId?: string | null;
}

/** A check that may refuse a message before it is written (e.g. a platform's messaging window). */
export type SendPolicy = (viewer: Viewer, draft: MessageDraft, channel: ChannelFacts) => Promise<void>;

export const DEFAULT_HISTORY_PAGE = 50;

export class MessageService {
  private readonly policies: SendPolicy[] = [];

  constructor(
    private readonly deps: ServiceDeps,
    private readonly channels: ChannelService,
  ) {}

  addSendPolicy(policy: SendPolicy): void {
    this.policies.push(policy);
  }

  async send(session: Session, input: SendMessageInput): Promise<MessageRecord> {
    const viewer = session.viewer;
    const facts = assertPostable(viewer, await this.channels.cachedFacts(viewer, input.channelId));
    const draft: MessageDraft = {
      channelId: input.channelId,
      userId: viewer.id,
      content: input.content ?? null,
      messageType: input.messageType ?? 'TEXT',
      metadata: input.metadata ?? null,
      threadId: input.threadId ? await this.threadForReply(viewer, input.channelId, input.threadId) : null,
      messageSource: 'INTERNAL',
    };
    for (const policy of this.policies) await policy(viewer, draft, facts);
    await this.channels.joinOnPost(viewer, facts);
    const { message } = await this.deps.writer.insert(viewer.organizationId, draft);
    this.publish('CREATED', message, session.requestId);
    return message;
  }

  /**
   * Stores messages that arrived from a platform, authored by the client they were routed to. A message
   * Meta delivers twice (even concurrently, on two instances) is stored and announced once.
   */
  async ingest(
    organizationId: string,
    draft: MessageDraft & { messageSource: MessageSource },
    requestId?: string,
  ): Promise<InsertOutcome> {
    const outcome = await this.deps.writer.insert(organizationId, draft);
    if (outcome.created) this.publish('CREATED', outcome.message, requestId);
    return outcome;
  }

  /** Only the author edits; the content is checked like a new message's. */
  async edit(session: Session, input: { messageId: string; content: string }): Promise<MessageRecord> {
    const viewer = session.viewer;
    const message = await this.readable(viewer, input.messageId);
    if (message.deletedAt) throw notFound('Message');
    if (message.userId !== viewer.id) throw forbidden('Only the author may edit a message');
    if (message.messageType === 'TEXT' && !input.content.trim())
      throw badInput('input.content', 'a text message needs content');
    const edited = await this.deps.writer.change(viewer.organizationId, message.id, {
      assignments: 'content = $3, edited_at = clock_timestamp()',
      conditions: 'm.user_id = $4',
      params: [input.content, viewer.id],
    });
    if (!edited) throw notFound('Message');
    this.publish('UPDATED', edited, session.requestId);
    return edited;
  }

  /** The author or an admin deletes; the content and attachment are erased, the message stays as a tombstone. */
  async delete(session: Session, messageId: string): Promise<MessageRecord> {
    const viewer = session.viewer;
    const message = await this.readable(viewer, messageId);
    if (message.deletedAt) throw notFound('Message');
    if (message.userId !== viewer.id && viewer.role !== 'ADMIN')
      throw forbidden('Only the author or an admin may delete a message');
    const deleted = await this.deps.writer.change(viewer.organizationId, message.id, {
      assignments: 'content = NULL, metadata = NULL, deleted_at = clock_timestamp()',
    });
    if (!deleted) throw notFound('Message');
    this.publish('DELETED', deleted, session.requestId);
    return deleted;
  }

  /** A platform unsend (Instagram `is_deleted`): the same tombstone, done on the client's behalf. */
  async deleteFromPlatform(organizationId: string, messageId: string): Promise<MessageRecord | null> {
    const deleted = await this.deps.writer.change(organizationId, messageId, {
      assignments: 'content = NULL, metadata = NULL, deleted_at = clock_timestamp()',
    });
    if (deleted) this.publish('DELETED', deleted);
    return deleted;
  }

  /** A message the viewer may see, or null. */
  async find(session: Session, messageId: string): Promise<MessageRecord | null> {
    const viewer = session.viewer;
    const message = await this.byId(viewer.organizationId, messageId);
    if (!message) return null;
    const facts = await loadChannelFacts(this.deps.db.pool, viewer, message.channelId);
    return facts && canRead(viewer, facts) ? message : null;
  }

  /** NOT_FOUND unless the viewer may see the message. */
  async readable(viewer: Viewer, messageId: string): Promise<MessageRecord> {
    const message = await this.byId(viewer.organizationId, messageId);
    const facts = message ? await loadChannelFacts(this.deps.db.pool, viewer, message.channelId) : null;
    if (!message || !facts || !canRead(viewer, facts)) throw notFound('Message');
    return message;
  }

  async history(session: Session, channelId: string, page: PageRequest): Promise<Page> {
    const viewer = session.viewer;
    assertReadable(viewer, await loadChannelFacts(this.deps.db.pool, viewer, channelId));
    return readPage(this.deps.db.pool, viewer.organizationId, { channelId }, page, DEFAULT_HISTORY_PAGE);
  }

  /** A thread's replies; the parent was already shown to the viewer, so its channel is readable. */
  replies(thread: MessageRecord, page: PageRequest): Promise<Page> {
    const scope = { threadId: thread.id };
    return readPage(this.deps.db.pool, thread.organizationId, scope, page, DEFAULT_HISTORY_PAGE);
  }

  async byId(organizationId: string, messageId: string): Promise<MessageRecord | null> {
    const { rows } = await this.deps.db.pool.query<MessageRecord>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1 AND m.organization_id = $2`,
      [messageId, organizationId],
    );
    return rows[0] ?? null;
  }

  /**
   * The thread a reply to `parentId` joins. Replies hang off the thread's first message: a reply to a reply
   * joins the same thread (one level, as chat clients show threads). The parent must be in the same channel,
   * and neither it nor the thread's first message may be deleted (see `acceptsResponses`). Platform messages
   * and the app's replies are threaded by this one rule.
   */
  async threadOf(
    organizationId: string,
    channelId: string,
    parentId: string,
  ): Promise<{ threadId: string } | { refused: 'other-channel' | 'deleted' }> {
    const parent = await this.byId(organizationId, parentId);
    if (!parent || parent.channelId !== channelId) return { refused: 'other-channel' };
    const root = parent.threadId ? await this.byId(organizationId, parent.threadId) : parent;
    if (!acceptsResponses(parent) || !root || !acceptsResponses(root)) return { refused: 'deleted' };
    return { threadId: root.id };
  }

  private async threadForReply(viewer: Viewer, channelId: string, parentId: string): Promise<string> {
    const thread = await this.threadOf(viewer.organizationId, channelId, parentId);
    if ('threadId' in thread) return thread.threadId;
    if (thread.refused === 'deleted') throw refusedResponse('input.threadId');
    throw badInput('input.threadId', 'must be a message of the same channel');
  }

  private publish(kind: MessageEventKind, message: MessageRecord, requestId?: string): void {
    void this.deps.hubs.publish(message.organizationId, {
      type: 'message',
      kind,
      seq: message.eventSeq,
      message: toWire(message),
      requestId,
    });
  }
}
