import type { Session, Viewer } from '../../auth/session.js';
import type { MessageSource } from '../../generated/prisma/enums.js';
import { badInput, forbidden, notFound } from '../../lib/errors.js';
import type { Database } from '../../db/database.js';
import { assertReadable, canRead, canSeeMessage } from '../access/channel-rules.js';
import { loadChannelFacts, messageVisibleSql } from '../access/channel-visibility.js';
import { type Page, type PageRequest, readPage } from './message-history.js';
import type { SequenceCursors } from './sequence-cursor.js';
import type { MessageEvents } from './message-events.js';
import { acceptsResponses, MESSAGE_COLUMNS, type MessageRecord, refusedResponse } from './message-record.js';
import type { InsertOutcome, MessageDraft, MessageWriter } from './message-writer.js';
import { MessageDetails } from './message-details.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { UploadService } from '../media/uploads.service.js';

export const DEFAULT_HISTORY_PAGE = 50;

/** What MessageService is built from. */
export interface MessageServiceDeps {
  db: Database;
  writer: MessageWriter;
  events: MessageEvents;
  users: UserDirectory;
  cursors: SequenceCursors;
  /** Where the bytes of deleted messages' attachments go. */
  uploads: Pick<UploadService, 'removeForMessage'>;
}

/** Messages once they exist: platform messages stored, edits, deletions, history. (Sending: send-message.ts.) */
export class MessageService {
  constructor(private readonly deps: MessageServiceDeps) {}

  /** A fresh set of detail loaders (authors, reactions, reply counts, readers) for one request or event. */
  details(viewerOf: () => Viewer): MessageDetails {
    return new MessageDetails(this.deps.db.pool, this.deps.users, () => messageVisibleSql(viewerOf()));
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
    if (outcome.created) this.deps.events.publish('CREATED', outcome.message, requestId);
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
      content: input.content,
    });
    if (!edited) throw notFound('Message');
    this.deps.events.publish('UPDATED', edited, session.requestId);
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
    this.deps.events.publish('DELETED', deleted, session.requestId);
    await this.deps.uploads.removeForMessage(deleted.organizationId, deleted.id);
    return deleted;
  }

  /**
   * A platform edit (WhatsApp `edit`): the author's message takes the new content and details, marked edited at
   * Meta's time. An edit older than the message's last one changes nothing, so edits applied out of order (or
   * again, on a replay) leave the newest.
   */
  async editFromPlatform(
    organizationId: string,
    messageId: string,
    authorId: string,
    edit: { content: string | null; metadata: Record<string, unknown>; editedAt: Date },
  ): Promise<MessageRecord | null> {
    const edited = await this.deps.writer.change(organizationId, messageId, {
      assignments: `content = $3, metadata = COALESCE(m.metadata, '{}'::jsonb) || $4::jsonb, edited_at = $5`,
      conditions: 'm.user_id = $6 AND (m.edited_at IS NULL OR m.edited_at < $5)',
      params: [edit.content, JSON.stringify(edit.metadata), edit.editedAt, authorId],
    });
    if (edited) this.deps.events.publish('UPDATED', edited);
    return edited;
  }

  /**
   * Something about a message other than its text changed (its attachment arrived, or was given up): the message
   * takes the organization's next number, so it is an UPDATED event in the ordered, resumable stream.
   */
  async touch(organizationId: string, messageId: string): Promise<void> {
    const touched = await this.deps.writer.change(organizationId, messageId, { assignments: 'metadata = m.metadata' });
    if (touched) this.deps.events.publish('UPDATED', touched);
  }

  /** A platform unsend (Instagram `is_deleted`): the same tombstone, done on the client's behalf. */
  async deleteFromPlatform(organizationId: string, messageId: string): Promise<MessageRecord | null> {
    const deleted = await this.deps.writer.change(organizationId, messageId, {
      assignments: 'content = NULL, metadata = NULL, deleted_at = clock_timestamp()',
    });
    if (deleted) {
      this.deps.events.publish('DELETED', deleted);
      await this.deps.uploads.removeForMessage(deleted.organizationId, deleted.id);
    }
    return deleted;
  }

  /** A message the viewer may see, or null. */
  async find(session: Session, messageId: string): Promise<MessageRecord | null> {
    const viewer = session.viewer;
    const message = await this.byId(viewer.organizationId, messageId);
    if (!message || !canSeeMessage(viewer, message)) return null;
    const facts = await loadChannelFacts(this.deps.db.pool, viewer, message.channelId);
    return facts && canRead(viewer, facts) ? message : null;
  }

  /** NOT_FOUND unless the viewer may see the message. */
  async readable(viewer: Viewer, messageId: string): Promise<MessageRecord> {
    const message = await this.byId(viewer.organizationId, messageId);
    const facts = message ? await loadChannelFacts(this.deps.db.pool, viewer, message.channelId) : null;
    if (!message || !canSeeMessage(viewer, message) || !facts || !canRead(viewer, facts)) throw notFound('Message');
    return message;
  }

  async history(session: Session, channelId: string, page: PageRequest): Promise<Page> {
    const viewer = session.viewer;
    assertReadable(viewer, await loadChannelFacts(this.deps.db.pool, viewer, channelId));
    return readPage(
      this.deps.db.pool,
      this.deps.cursors,
      viewer.organizationId,
      { channelId, visible: messageVisibleSql(viewer) },
      page,
      DEFAULT_HISTORY_PAGE,
    );
  }

  /** A thread's replies; the parent was already shown to the viewer, so its channel is readable. */
  replies(viewer: Viewer, thread: MessageRecord, page: PageRequest): Promise<Page> {
    const scope = { threadId: thread.id, visible: messageVisibleSql(viewer) };
    return readPage(this.deps.db.pool, this.deps.cursors, thread.organizationId, scope, page, DEFAULT_HISTORY_PAGE);
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

  /** The thread a reply to `parentId` joins (NOT_FOUND-like refusals name the field). */
  async threadForReply(viewer: Viewer, channelId: string, parentId: string): Promise<string> {
    // A message the viewer may not see (another channel's, an internal note for a client) is refused alike.
    const parent = await this.byId(viewer.organizationId, parentId);
    if (parent && !canSeeMessage(viewer, parent))
      throw badInput('input.threadId', 'must be a message of the same channel');
    const thread = await this.threadOf(viewer.organizationId, channelId, parentId);
    if ('threadId' in thread) return thread.threadId;
    if (thread.refused === 'deleted') throw refusedResponse('input.threadId');
    throw badInput('input.threadId', 'must be a message of the same channel');
  }
}
