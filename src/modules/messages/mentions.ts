import type pg from 'pg';

/** A person who may be mentioned: what `@` may be followed by to name them. */
export interface Mentionable {
  id: string;
  email: string;
  displayName: string;
}

// A letter, digit or underscore: a mention neither starts right after one (so `ada@example.com` mentions no one)
// nor stops right before one (so `@Ann` does not mention Anna).
const WORD = /[\p{L}\p{N}_]/u;

/**
 * The people a text mentions: `@` followed by a person's e-mail address or display name, compared without
 * case (`@ada@example.com`, `@Ada Lovelace`, `@ada lovelace,`). Where several names fit at one `@`, the longest
 * wins (`@Ada Lovelace` mentions Ada Lovelace, not another Ada). Each id once.
 */
export function parseMentions(content: string, people: readonly Mentionable[]): string[] {
  const text = content.toLowerCase();
  const names = people
    .flatMap((person) =>
      [person.email, person.displayName].map((name) => ({ id: person.id, name: name.toLowerCase() })),
    )
    .filter((candidate) => candidate.name.length > 0)
    .sort((a, b) => b.name.length - a.name.length);
  const mentioned: string[] = [];
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    if (at > 0 && WORD.test(text[at - 1]!)) continue;
    const match = names.find(
      ({ name }) => text.startsWith(name, at + 1) && !WORD.test(text.charAt(at + 1 + name.length)),
    );
    if (match && !mentioned.includes(match.id)) mentioned.push(match.id);
  }
  return mentioned;
}

/**
 * Resolves the mentions of a message's content among the active people of its organization. Only those whose
 * address or name follows an `@` somewhere in the text are read (one statement, none without an `@`).
 */
export class MentionResolver {
  constructor(private readonly pool: pg.Pool) {}

  async resolve(organizationId: string, content: string | null): Promise<string[]> {
    if (!content?.includes('@')) return [];
    const { rows } = await this.pool.query<Mentionable>(
      `SELECT id, email, display_name AS "displayName" FROM users
       WHERE organization_id = $1 AND is_active
         AND (strpos(lower($2), '@' || lower(email)) > 0 OR strpos(lower($2), '@' || lower(display_name)) > 0)`,
      [organizationId, content],
    );
    return parseMentions(content, rows);
  }
}

/**
 * Stores who messages mention, inside the transaction that wrote them: `mentions` pairs each message id with
 * a mentioned user id. The message's channel and channel number travel with each row.
 */
export async function storeMentions(
  client: pg.PoolClient,
  mentions: readonly { messageId: string; userId: string }[],
): Promise<void> {
  if (mentions.length === 0) return;
  await client.query(
    `INSERT INTO message_mentions (message_id, user_id, channel_id, channel_seq)
     SELECT m.id, k.user_id, m.channel_id, m.channel_seq
     FROM unnest($1::uuid[], $2::uuid[]) AS k(message_id, user_id) JOIN messages m ON m.id = k.message_id
     ON CONFLICT DO NOTHING`,
    [mentions.map((mention) => mention.messageId), mentions.map((mention) => mention.userId)],
  );
}
