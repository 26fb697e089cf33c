import type pg from 'pg';
import type { Session, Viewer } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
import { withTransaction } from '../../db/transaction.js';
import { badInput } from '../../lib/errors.js';
import { assertReadable } from '../access/channel-rules.js';
import { channelVisibleSql, loadChannelFacts, messageVisibleSql } from '../access/channel-visibility.js';
import { MESSAGE_COLUMNS, type MessageRecord } from '../messages/message-record.js';
import type { SequenceCursors } from '../messages/sequence-cursor.js';

/**
 * The text search configuration of message search: 'simple' lower-cases words and neither stems them nor drops
 * stop words, so every language that separates words is searched alike (a word matches its own forms only).
 * It must be the configuration that generates the column messages.search_vector, which a language-aware
 * deployment regenerates with its language (e.g. 'german') in a migration of its own when changing this constant.
 */
export const SEARCH_TEXT_CONFIG = 'simple';

/** The longest query accepted, in characters. */
export const MAX_SEARCH_QUERY_LENGTH = 200;

/** The most words and operators a query may combine (tsquery nodes): each is a lookup in the index. */
const MAX_QUERY_NODES = 31;

// Around each match in a highlight; characters of Unicode's private use area, which text never shows.
const MATCH_START = '\uE000';
const MATCH_END = '\uE001';
const HEADLINE_OPTIONS = `StartSel=${MATCH_START}, StopSel=${MATCH_END}, MaxWords=30, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "`;

/** A search statement's row: the message and, for a match, its highlight (ts_headline's output). */
type SearchRow = MessageRecord & { headline: string };

/** A search statement's row as the message alone. */
const messageOf = (row: SearchRow): MessageRecord => {
  const {
    headline: _headline,
    hit: _hit,
    walked: _walked,
    ...message
  } = row as SearchRow & {
    hit?: boolean;
    walked?: string;
  };
  return message;
};

/** A piece of a highlight: text that matched the query, or text around it. */
export interface HighlightPart {
  text: string;
  matched: boolean;
}

export interface SearchHit {
  message: MessageRecord;
  /** Where the message's content matched, in context (excerpts of a long message). */
  highlight: HighlightPart[];
}

export interface SearchRequest {
  query: string;
  channelId?: string | null;
  first: number;
  after?: string | null;
}

/** What SearchService is built from. */
export interface SearchServiceDeps {
  db: Database;
  cursors: SequenceCursors;
  /** The longest each search statement may run (SEARCH_TIMEOUT_MS). */
  timeoutMs: number;
  /** How many of the newest messages are read before the word index is (RECENT_MESSAGES_READ unless set). */
  recentMessages?: number;
}

/**
 * How many of the newest messages in scope (the organization's, or the channel's when one is searched) a
 * search reads, in order, before it turns to the word index for older matches. A word found in at least one
 * of every few hundred recent messages fills a page here; the index is then asked only for rarer words, whose
 * matches are few. Reading these costs the same whatever the words; the index costs what it matches.
 */
export const RECENT_MESSAGES_READ = 4_000;

/**
 * Full-text search of messages with PostgreSQL: the query is read by `websearch_to_tsquery` (words, "a phrase",
 * `or`, `-word`; any text is a valid query), matched against messages.search_vector (GIN-indexed), and
 * limited to what the viewer may read now; newest first, in keyset pages by the messages' cursors. The newest
 * messages are read first (RECENT_MESSAGES_READ), the word index only for the older matches of rarer words.
 */
export class SearchService {
  private readonly recentMessages: number;

  constructor(private readonly deps: SearchServiceDeps) {
    this.recentMessages = deps.recentMessages ?? RECENT_MESSAGES_READ;
  }

  async search(session: Session, request: SearchRequest): Promise<{ hits: SearchHit[]; hasNextPage: boolean }> {
    const viewer = session.viewer;
    if (request.query.length > MAX_SEARCH_QUERY_LENGTH)
      throw badInput('query', `must be at most ${MAX_SEARCH_QUERY_LENGTH} characters`);
    const { pool } = this.deps.db;
    if (request.channelId) assertReadable(viewer, await loadChannelFacts(pool, viewer, request.channelId));
    const after = request.after
      ? await this.deps.cursors.issued(pool, viewer.organizationId, request.after, 'after')
      : null;

    const { rows: shape } = await pool.query<{ nodes: number; indexable: boolean }>(
      `SELECT numnode(q) AS nodes, querytree(q) <> 'T' AS indexable FROM websearch_to_tsquery($1::regconfig, $2) q`,
      [SEARCH_TEXT_CONFIG, request.query],
    );
    const { nodes, indexable } = shape[0]!;
    // No word to look for (empty, punctuation, or stop words under a language-aware configuration): nothing found.
    if (nodes === 0 || request.first === 0) return { hits: [], hasNextPage: false };
    if (nodes > MAX_QUERY_NODES) throw badInput('query', 'has too many words');
    // Only exclusions (`-word`): answering would read every message.
    if (!indexable) throw badInput('query', 'needs a word to look for, not only words to leave out');

    // $1 to $7 of every search statement.
    const searchParams = [
      viewer.organizationId,
      viewer.id,
      viewer.role,
      request.channelId ?? null,
      request.query,
      SEARCH_TEXT_CONFIG,
      HEADLINE_OPTIONS,
    ];

    const scope = request.channelId ? 'channel' : 'organization';
    const found = await this.bounded(async (client) => {
      const cursorSeq = after ? after.seq.toString() : null;
      const recent = await client.query<SearchRow>(recentMatchesSql(viewer, scope), [
        ...searchParams,
        cursorSeq,
        request.first + 1,
        this.recentMessages,
      ]);
      // A full page among the newest messages: the index is not needed.
      if (recent.rows.length > request.first) return recent.rows;
      const { rows: read } = await client.query<{ seq: string }>(lastRecentSql(scope), [
        request.channelId ?? viewer.organizationId,
        cursorSeq,
        this.recentMessages,
      ]);
      // Fewer messages in scope than are read first: none is left for the index.
      if (read.length === 0) return recent.rows;
      const older = await client.query<SearchRow>(indexedMatchesSql(viewer), [
        ...searchParams,
        read[0]!.seq,
        request.first + 1 - recent.rows.length,
      ]);
      return [...recent.rows, ...older.rows];
    });
    return {
      hits: found.slice(0, request.first).map((row) => ({
        message: messageOf(row),
        highlight: highlightParts(row.headline),
      })),
      hasNextPage: found.length > request.first,
    };
  }

  /**
   * Runs the search statements with at most SEARCH_TIMEOUT_MS each to answer: words each common but rarely
   * together still make the word index read far. Such a query is refused as too broad rather than left to hold
   * the database. One snapshot for all of them, so that the older matches begin exactly where the messages read
   * first ended, whatever is written meanwhile; sequential scans are off so that the older matches are found by
   * the word index (see indexedMatchesSql).
   */
  private async bounded<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      return await withTransaction(this.deps.db.pool, work, {
        firstStatement: `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL statement_timeout = ${Math.trunc(this.deps.timeoutMs)}; SET LOCAL enable_seqscan = off`,
      });
    } catch (error) {
      if ((error as { code?: string }).code === QUERY_CANCELED)
        throw badInput('query', 'is too broad to answer in time: add words, or search one channel');
      throw error;
    }
  }
}

/** PostgreSQL's code for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

/**
 * The messages `m` a viewer may find: of their organization, in a channel they may read now (the access rule's
 * SQL form), not deleted, not an internal note unless the viewer is staff; within one channel when `channelId` is
 * not null. Every rule about which messages a search may return belongs here (the parameters are SQL expressions).
 */
function searchableSql(
  viewer: Viewer,
  params: { organizationId: string; viewerId: string; role: string; channelId: string },
): string {
  return `m.organization_id = ${params.organizationId}
    AND ${messageVisibleSql(viewer)}
    AND (${params.channelId} IS NULL OR m.channel_id = ${params.channelId})
    AND m.channel_id IN (SELECT c.id FROM channels c
                         WHERE c.organization_id = ${params.organizationId}
                           AND ${channelVisibleSql('c.id', params.viewerId, params.role)})
    AND m.deleted_at IS NULL`;
}

type Scope = 'organization' | 'channel';

const SEARCHABLE_PARAMS = { organizationId: '$1', viewerId: '$2::uuid', role: '$3::text', channelId: '$4::uuid' };
const QUERY = 'websearch_to_tsquery($6::regconfig, $5)';
const HEADLINE = `ts_headline($6::regconfig, page.content, ${QUERY}, $7)`;

/** Where a scope's messages are read in order: an index of the organization's, or of one channel's. */
const scopeSql = (scope: Scope, value: string) =>
  scope === 'channel' ? `m.channel_id = ${value}::uuid` : `m.organization_id = ${value}::uuid`;

/**
 * The matches among the newest $10 messages in scope older than the cursor $8 (null: from the newest), newest
 * first, at most $9. The messages are read in the order of their scope's index, stopping at a full page: the
 * only way PostgreSQL can answer a LIMIT over that ORDER BY at this cost, so its estimates of how often words
 * occur (or of how many messages a channel holds) play no part.
 */
function recentMatchesSql(viewer: Viewer, scope: Scope): string {
  return `SELECT page.*, ${HEADLINE} AS headline
    FROM (
      SELECT ${MESSAGE_COLUMNS}
      FROM (
        SELECT * FROM messages m
        WHERE ${scopeSql(scope, scope === 'channel' ? '$4' : '$1')}
          AND ($8::bigint IS NULL OR m.created_seq < $8::bigint)
        ORDER BY m.created_seq DESC
        LIMIT $10
      ) m
      WHERE ${searchableSql(viewer, SEARCHABLE_PARAMS)}
        AND m.search_vector @@ ${QUERY}
      ORDER BY m.created_seq DESC
      LIMIT $9
    ) page
    ORDER BY page."createdSeq"::bigint DESC`;
}

/**
 * The position of the last of the messages recentMatchesSql reads ($3 of the scope $1 older than the cursor $2),
 * none when the scope has fewer: from the index alone.
 */
const lastRecentSql = (scope: Scope) =>
  `SELECT m.created_seq::text AS seq FROM messages m
   WHERE ${scopeSql(scope, '$1')} AND ($2::bigint IS NULL OR m.created_seq < $2::bigint)
   ORDER BY m.created_seq DESC
   OFFSET $3::int - 1 LIMIT 1`;

/**
 * The matches older than $8 (where the newest messages read ended), newest first, at most $9, through the word
 * index of the viewer's organization: the index is on (organization_id, search_vector), so a word common in
 * another organization costs nothing here. The other conditions on the matches are applied to what it finds
 * (OFFSET 0 keeps them out of the scan, and the transaction turns sequential scans off), whatever PostgreSQL
 * estimates of the words' frequency. The one other way in is reading all of the organization's messages by
 * (organization_id, created_seq), which PostgreSQL prefers only where that costs less: few messages, or many of
 * the word index's entries still pending (autovacuum merges them). Only words rarely found among the newest
 * messages come here. Exported for the test that reads its plan.
 */
export function indexedMatchesSql(viewer: Viewer): string {
  return `SELECT page.*, ${HEADLINE} AS headline
    FROM (
      SELECT ${MESSAGE_COLUMNS}
      FROM (SELECT * FROM messages m WHERE m.organization_id = $1 AND m.search_vector @@ ${QUERY} OFFSET 0) m
      WHERE ${searchableSql(viewer, SEARCHABLE_PARAMS)}
        AND m.created_seq < $8::bigint
      ORDER BY m.created_seq DESC
      LIMIT $9
    ) page
    ORDER BY page."createdSeq"::bigint DESC`;
}

/** ts_headline's output, marked with MATCH_START / MATCH_END, as parts. */
export function highlightParts(headline: string): HighlightPart[] {
  const parts: HighlightPart[] = [];
  for (const [index, piece] of headline.split(MATCH_START).entries()) {
    const [matched, rest] = index === 0 ? [null, piece] : splitOnce(piece, MATCH_END);
    if (matched) parts.push({ text: matched, matched: true });
    if (rest) parts.push({ text: rest, matched: false });
  }
  return parts;
}

const splitOnce = (text: string, separator: string): [string, string] => {
  const at = text.indexOf(separator);
  return at === -1 ? [text, ''] : [text.slice(0, at), text.slice(at + separator.length)];
};
