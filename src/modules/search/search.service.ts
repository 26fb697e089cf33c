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
  /** The longest the search statement may run (SEARCH_TIMEOUT_MS). */
  timeoutMs: number;
}

/**
 * Full-text search of messages with PostgreSQL: the query is read by `websearch_to_tsquery` (words, "a phrase",
 * `or`, `-word`; any text is a valid query), matched against messages.search_vector (GIN-indexed), and
 * limited to what the viewer may read now; newest first, in keyset pages by the messages' cursors.
 */
export class SearchService {
  constructor(private readonly deps: SearchServiceDeps) {}

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

    const rows = await this.bounded((client) =>
      client.query<MessageRecord & { headline: string }>(
        `SELECT page.*, ts_headline($7::regconfig, page.content, websearch_to_tsquery($7::regconfig, $5), $8) AS headline
       FROM (
         SELECT ${MESSAGE_COLUMNS} FROM messages m
         WHERE ${searchableSql(viewer, { organizationId: '$1', viewerId: '$2::uuid', role: '$3::text', channelId: '$4::uuid' })}
           AND m.search_vector @@ websearch_to_tsquery($7::regconfig, $5)
           AND ($6::bigint IS NULL OR m.created_seq < $6::bigint)
         ORDER BY m.created_seq DESC
         LIMIT $9
       ) page
       ORDER BY page."createdSeq"::bigint DESC`,
        [
          viewer.organizationId,
          viewer.id,
          viewer.role,
          request.channelId ?? null,
          request.query,
          after ? after.seq.toString() : null,
          SEARCH_TEXT_CONFIG,
          HEADLINE_OPTIONS,
          request.first + 1,
        ],
      ),
    );
    return {
      hits: rows.slice(0, request.first).map(({ headline, ...message }) => ({
        message,
        highlight: highlightParts(headline),
      })),
      hasNextPage: rows.length > request.first,
    };
  }

  /**
   * Runs the search statement with at most SEARCH_TIMEOUT_MS to answer: PostgreSQL's plan walks either the
   * newest messages or the index's matches, and a query whose words are each common but rarely together can make
   * either read far. Such a query is refused as too broad rather than left to hold the database.
   */
  private async bounded<T>(statement: (client: pg.PoolClient) => Promise<pg.QueryResult<T & pg.QueryResultRow>>) {
    try {
      const { rows } = await withTransaction(this.deps.db.pool, statement, {
        firstStatement: `SET LOCAL statement_timeout = ${Math.trunc(this.deps.timeoutMs)}`,
      });
      return rows;
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
