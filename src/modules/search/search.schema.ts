import { z } from 'zod';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../schema/pagination.js';
import { sequenceCursorSchema } from '../messages/sequence-cursor.js';
import { MessageConnection, MessageRef } from '../messages/messages.schema.js';
import { MAX_SEARCH_QUERY_LENGTH } from './search.service.js';

builder.queryFields((t) => ({
  searchMessages: t.connection(
    {
      type: MessageRef,
      description:
        'Full-text search of the messages the viewer may read now (in one channel, or in all), newest first, each ' +
        'edge with its highlight. The query takes words (all must match), "a phrase", `or`, and `-word` to leave ' +
        'one out; words are compared without case and without stemming, alike in every language. A query with no ' +
        'word to look for finds nothing.',
      args: {
        query: t.arg.string({
          required: true,
          validate: z
            .string()
            .max(MAX_SEARCH_QUERY_LENGTH, { error: `must be at most ${MAX_SEARCH_QUERY_LENGTH} characters` }),
        }),
        channelId: t.arg.id({ validate: uuid, description: 'Search this channel only.' }),
      },
      validate: z
        .object({
          first: z
            .number()
            .int()
            .min(0, { error: `must be between 0 and ${MAX_PAGE_SIZE}` })
            .max(MAX_PAGE_SIZE, { error: `must be between 0 and ${MAX_PAGE_SIZE}` })
            .nullish(),
          after: sequenceCursorSchema.nullish(),
          last: z.null({ error: 'search results are paged forward (first, after)' }).optional(),
          before: z.null({ error: 'search results are paged forward (first, after)' }).optional(),
        })
        .loose(),
      resolve: async (_root, args, context) => {
        const { hits, hasNextPage } = await context.services.search.search(context.session, {
          query: args.query,
          channelId: args.channelId ? String(args.channelId) : null,
          first: args.first ?? DEFAULT_PAGE_SIZE,
          after: args.after,
        });
        const edges = hits.map((hit) => ({
          cursor: context.services.cursors.ofMessage(hit.message),
          node: hit.message,
          highlight: hit.highlight,
        }));
        return {
          edges,
          pageInfo: {
            hasNextPage,
            hasPreviousPage: Boolean(args.after),
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
        };
      },
    },
    MessageConnection,
  ),
}));
