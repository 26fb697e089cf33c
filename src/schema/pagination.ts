import { z } from 'zod';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

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
