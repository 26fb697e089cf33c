// What both comparison servers (bench/peers/) do with the database, written as a team starting from the
// Prisma and jose documentation would: a Prisma client over a `pg` pool, the bearer token verified and its user
// loaded on every request or connection, membership checked with one lookup, the new message published whole.
// They share our database and bench users so that every server answers the same client with the same rows.
import { PrismaPg } from '@prisma/adapter-pg';
import { jwtVerify } from 'jose';
import { GraphQLError } from 'graphql';
import { PrismaClient, type User } from '../../src/generated/prisma/client.js';

export const prisma = new PrismaClient({
  adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL!, max: 20 }),
});

const secret = new TextEncoder().encode(process.env.JWT_SECRET!);

/** `Authorization: Bearer <jwt>` → the user, or an UNAUTHENTICATED error. */
export async function viewerFromAuthorization(header: unknown): Promise<User> {
  const token = typeof header === 'string' ? header.replace(/^Bearer /, '') : '';
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    const user = await prisma.user.findUnique({ where: { id: String(payload.sub) } });
    if (user?.isActive) return user;
  } catch {
    // falls through to the refusal below
  }
  throw new GraphQLError('Not signed in', { extensions: { code: 'UNAUTHENTICATED' } });
}

export async function assertMember(viewer: User, channelId: string): Promise<void> {
  const membership = await prisma.channelMember.findUnique({
    where: { channelId_userId: { channelId, userId: viewer.id } },
  });
  if (!membership || membership.organizationId !== viewer.organizationId)
    throw new GraphQLError('Channel not found', { extensions: { code: 'NOT_FOUND' } });
}

// Our schema numbers every message; a usual server has no such columns, so each peer numbers its own
// messages from the clock (one process per peer, its own organization), at the cost of nothing.
let nextNumber = BigInt(Date.now()) * 1000n;

/**
 * Inserts the message with what its subscribers will be asked for (author, reactions, reply count), as
 * `prisma.message.create({ include })` does in the docs, so that each server can publish it whole and its
 * subscribers resolve it without going back to the database.
 */
export async function createMessage(viewer: User, input: { channelId: string; content: string }) {
  await assertMember(viewer, input.channelId);
  const number = nextNumber++;
  return prisma.message.create({
    data: {
      channelId: input.channelId,
      content: input.content,
      userId: viewer.id,
      organizationId: viewer.organizationId,
      eventSeq: number,
      createdSeq: number,
      channelSeq: number,
    },
    include: { user: true, reactions: true, _count: { select: { replies: true } } },
  });
}

/** What goes over Redis: the new message as JSON carries it (Prisma's BigInt columns do not serialise). */
export function messageCreatedEvent(message: Awaited<ReturnType<typeof createMessage>>) {
  const { id, content, createdAt, userId, user, reactions, _count } = message;
  return {
    kind: 'CREATED' as const,
    cursor: id,
    message: {
      id,
      content,
      createdAt,
      userId,
      user: { id: user.id, displayName: user.displayName, avatarUrl: user.avatarUrl },
      reactions: reactions.map(({ emoji, userId }) => ({ emoji, userId })),
      _count,
    },
  };
}

export type MessageCreatedEvent = ReturnType<typeof messageCreatedEvent>;

/** A message's reactions grouped by emoji, with whether the viewer is among them. */
export function reactionSummaries(reactions: { emoji: string; userId: string }[], viewerId: string) {
  const byEmoji = new Map<string, { emoji: string; count: number; viewerReacted: boolean }>();
  for (const reaction of reactions) {
    const summary = byEmoji.get(reaction.emoji) ?? { emoji: reaction.emoji, count: 0, viewerReacted: false };
    summary.count += 1;
    summary.viewerReacted ||= reaction.userId === viewerId;
    byEmoji.set(reaction.emoji, summary);
  }
  return [...byEmoji.values()];
}

export const port = Number(process.env.PORT);
