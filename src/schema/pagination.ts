import { parsePrismaCursor } from '@pothos/plugin-prisma';
import { z } from 'zod';
import { badInput } from '../lib/errors.js';
import { uuid } from '../lib/validation.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** What every connection says of a cursor it did not issue. */
export const NOT_ISSUED = 'is not a cursor this server issued';

const pageSize = z
  .number()
  .int()
  .min(0, { error: `must be between 0 and ${MAX_PAGE_SIZE}` })
  .max(MAX_PAGE_SIZE, { error: `must be between 0 and ${MAX_PAGE_SIZE}` })
  .nullish();

/** The Relay connection arguments, bounded, with cursors checked by the connection's own cursor format. */
export function pageArgsSchema(cursor: z.ZodType<string>) {
  return z
    .object({ first: pageSize, last: pageSize, after: cursor.nullish(), before: cursor.nullish() })
    .refine((args) => args.first == null || args.last == null, {
      error: 'cannot be combined with first',
      path: ['last'],
    });
}

/** The key a cursor of @pothos/plugin-prisma holds, or undefined when the string is no such cursor. */
export function recordCursorKey(cursor: string): unknown {
  if (cursor.length > 200) return undefined;
  try {
    return parsePrismaCursor(cursor);
  } catch {
    return undefined;
  }
}

/**
 * A cursor of @pothos/plugin-prisma whose key has the shape of the connection's key: anything else (another
 * connection's cursor, a number or an object where a UUID goes) is refused before it reaches Prisma.
 */
const recordCursor = (key: z.ZodType) =>
  z.string().refine((cursor) => key.safeParse(recordCursorKey(cursor)).success, { error: NOT_ISSUED });

/** The cursor of a list of rows keyed by their UUID (users, channels, webhook deliveries). */
export const idCursor = recordCursor(uuid);

/** The cursor of a list of rows keyed by two UUIDs (a channel's members: channel and user). */
export const pairCursor = recordCursor(z.tuple([uuid, uuid]));

/**
 * A well-formed cursor must also name a row of the very list being paged: a cursor of another list or
 * organization, or of no row at all, was never issued for it (Prisma would answer with an empty page, or a
 * page placed by a row the viewer cannot see). `cursor` is the key Prisma was given (absent on a first page).
 */
export async function assertCursorInList<Key>(
  args: { after?: string | null; before?: string | null },
  cursor: Key | undefined,
  findInList: (key: Key) => Promise<unknown>,
): Promise<void> {
  if (cursor === undefined) return;
  if (!(await findInList(cursor))) throw badInput(args.after != null ? 'after' : 'before', NOT_ISSUED);
}
