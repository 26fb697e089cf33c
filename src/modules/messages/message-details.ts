import type pg from 'pg';
import type { User } from '../../generated/prisma/client.js';
import { SettledLoader } from '../../lib/settled-loader.js';
import type { UserDirectory } from '../users/user-directory.js';
import { MESSAGE_COLUMNS, type MessageRecord } from './message-record.js';

export interface ReactionRow {
  messageId: string;
  userId: string;
  emoji: string;
  createdAt: Date;
}

export interface ReadRow {
  messageId: string;
  userId: string;
  readAt: Date;
}

/**
 * What a Message shows beyond its row (author, reactions, reply count, readers), each loaded for many
 * messages in one statement. A query gets one set per request, so a page of 50 messages costs one
 * statement per field however large the page. A realtime event gets one set shared by every subscriber
 * on this instance (see `sharedDetailsFor`), so fan-out to a thousand subscribers reads once per event.
 */
export interface ReplyCounts {
  all: number;
  /** Without internal notes. */
  toClients: number;
}

export class MessageDetails {
  readonly authors: SettledLoader<string, User | null>;
  readonly reactions: SettledLoader<string, ReactionRow[]>;
  /** A thread's replies: all of them, and those a client may see (internal notes left out). */
  readonly replyCounts: SettledLoader<string, ReplyCounts>;
  readonly readers: SettledLoader<string, ReadRow[]>;
  /** The ids of the people each message mentions. */
  readonly mentions: SettledLoader<string, string[]>;
  /** The newest message of each channel (by channel id). */
  readonly lastMessages: SettledLoader<string, MessageRecord | null>;

  /**
   * `lastMessageVisibility`: which messages the reader may see, as a SQL condition on the messages row `m` (see
   * messageVisibleSql), asked only when a last message is read (the one detail that depends on the reader).
   */
  constructor(db: pg.Pool, users: UserDirectory, lastMessageVisibility: () => string) {
    this.authors = new SettledLoader(
      async (ids) => {
        const found = await users.getMany(ids);
        return ids.map((id) => found.get(id) ?? null);
      },
      (id) => users.cached(id),
    );
    this.reactions = new SettledLoader(async (ids) => {
      const { rows } = await db.query<ReactionRow>(
        `SELECT message_id AS "messageId", user_id AS "userId", emoji, created_at AS "createdAt"
         FROM message_reactions WHERE message_id = ANY($1::uuid[]) ORDER BY created_at, id`,
        [ids],
      );
      return groupBy(ids, rows, (row) => row.messageId);
    });
    // What `replies` lists: a thread's replies that are not deleted.
    this.replyCounts = new SettledLoader(async (ids) => {
      const { rows } = await db.query<{ threadId: string } & ReplyCounts>(
        `SELECT m.thread_id AS "threadId", count(*)::int AS all,
                (count(*) FILTER (WHERE NOT m.internal))::int AS "toClients"
         FROM messages m WHERE m.thread_id = ANY($1::uuid[]) AND m.deleted_at IS NULL GROUP BY m.thread_id`,
        [ids],
      );
      const counts = new Map(rows.map((row) => [row.threadId, { all: row.all, toClients: row.toClients }]));
      return ids.map((id) => counts.get(id) ?? { all: 0, toClients: 0 });
    });
    this.readers = new SettledLoader(async (ids) => {
      const { rows } = await db.query<ReadRow>(
        `SELECT message_id AS "messageId", user_id AS "userId", timestamp AS "readAt"
         FROM message_user_status WHERE message_id = ANY($1::uuid[]) AND status = 'read' ORDER BY timestamp, id`,
        [ids],
      );
      return groupBy(ids, rows, (row) => row.messageId);
    });
    this.mentions = new SettledLoader(async (ids) => {
      const { rows } = await db.query<{ messageId: string; userId: string }>(
        `SELECT message_id AS "messageId", user_id AS "userId" FROM message_mentions
         WHERE message_id = ANY($1::uuid[]) ORDER BY user_id`,
        [ids],
      );
      return groupBy(ids, rows, (row) => row.messageId).map((group) => group.map((row) => row.userId));
    });
    this.lastMessages = new SettledLoader(async (channelIds) => {
      const { rows } = await db.query<MessageRecord>(
        `SELECT last.* FROM unnest($1::uuid[]) AS c(id)
         CROSS JOIN LATERAL (
           SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.channel_id = c.id AND ${lastMessageVisibility()}
           ORDER BY m.created_at DESC, m.id DESC LIMIT 1
         ) last`,
        [channelIds],
      );
      const byChannel = new Map(rows.map((row) => [row.channelId, row]));
      return channelIds.map((id) => byChannel.get(id) ?? null);
    });
  }

  /** A message just created has no reactions, replies or readers yet: nothing to read. */
  primeNew(message: MessageRecord): void {
    this.reactions.prime(message.id, []);
    this.replyCounts.prime(message.id, { all: 0, toClients: 0 });
    this.readers.prime(message.id, []);
  }
}

function groupBy<T>(ids: readonly string[], rows: T[], key: (row: T) => string): T[][] {
  const groups = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return ids.map((id) => groups.get(id)!);
}

const shared = new WeakMap<MessageRecord, MessageDetails>();

/**
 * The details shared by everyone resolving the same delivered event. The event's message object is one
 * instance for all local subscribers, so it keys the set; it is collected with the event.
 */
export function shareDetails(message: MessageRecord, details: MessageDetails): void {
  shared.set(message, details);
}

export const sharedDetailsFor = (message: MessageRecord) => shared.get(message);
