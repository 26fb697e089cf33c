import { z } from 'zod';
import type { MessageType } from '../../../generated/prisma/enums.js';
import type { Customer, InboundEvent, JsonObject, ParsedDelivery, ParseProblem } from '../inbound-events.js';
import { compact, itemsOf, parseItem } from './shape.js';

// Instagram messaging webhooks: `entry[] x messaging[]` (or `standby[]` when another app holds the thread).
// Timestamps are integer milliseconds; people are Instagram-scoped ids. One item is a message (possibly an
// echo of the business's own send, or an unsend), a reaction, a read receipt or a postback.

const millis = z
  .number()
  .int()
  .nonnegative()
  .transform((value) => new Date(value));

const attachmentSchema = z
  .object({
    type: z.string().min(1),
    payload: z
      .object({
        url: z.string().optional(),
        title: z.string().optional(),
        ig_post_media_id: z.string().optional(),
        reel_video_id: z.string().optional(),
        sticker_id: z.union([z.string(), z.number()]).optional(),
      })
      // Everything Meta says about an attachment is kept in the message's metadata.
      .catchall(z.json())
      .optional(),
  })
  .loose();

const messageSchema = z
  .object({
    mid: z.string().min(1),
    text: z.string().optional(),
    attachments: z.array(attachmentSchema).optional(),
    is_echo: z.boolean().optional(),
    is_deleted: z.boolean().optional(),
    is_unsupported: z.boolean().optional(),
    reply_to: z
      .object({ mid: z.string().optional(), story: z.object({ id: z.string(), url: z.string() }).loose().optional() })
      .loose()
      .optional(),
    quick_reply: z.object({ payload: z.string() }).loose().optional(),
  })
  .loose();

const itemSchema = z
  .object({
    sender: z.object({ id: z.string().min(1) }).loose(),
    recipient: z.object({ id: z.string().min(1) }).loose(),
    timestamp: millis,
    message: messageSchema.optional(),
    reaction: z
      .object({
        mid: z.string().min(1),
        action: z.enum(['react', 'unreact']),
        reaction: z.string().optional(),
        emoji: z.string().optional(),
      })
      .loose()
      .optional(),
    read: z
      .object({ mid: z.string().min(1) })
      .loose()
      .optional(),
    postback: z
      .object({ mid: z.string().min(1), title: z.string(), payload: z.string().optional() })
      .loose()
      .optional(),
  })
  .loose();

const envelopeSchema = z
  .object({
    object: z.literal('instagram', { error: 'must be "instagram"' }),
    entry: z.array(
      z
        .object({
          id: z.string().optional(),
          messaging: z.array(z.unknown()).optional(),
          standby: z.array(z.unknown()).optional(),
        })
        .loose(),
    ),
  })
  .loose();

type InstagramItem = z.output<typeof itemSchema>;
type InstagramMessage = z.output<typeof messageSchema>;

export function parseInstagramDelivery(body: unknown): ParsedDelivery {
  const events: InboundEvent[] = [];
  const problems: ParseProblem[] = [];
  const envelope = parseItem(envelopeSchema, body, '(delivery)', problems);
  if (!envelope) return { events, problems };
  envelope.entry.forEach((entry, entryIndex) => {
    const items = [
      ...itemsOf(entry.messaging, `entry[${entryIndex}].messaging`),
      ...itemsOf(entry.standby, `entry[${entryIndex}].standby`),
    ];
    for (const item of items) {
      const parsed = parseItem(itemSchema, item.value, item.path, problems);
      if (!parsed) continue;
      const event = eventOf(parsed, entry.id ?? null, item.path);
      // Other kinds of items (referrals, opt-ins, ...) carry nothing for a conversation.
      if (event) events.push(event);
    }
  });
  return { events, problems };
}

function eventOf(item: InstagramItem, entryId: string | null, path: string): InboundEvent | undefined {
  const base = { path, timestamp: item.timestamp };
  const from = (id: string): Customer => ({ platformUserId: id, scopedUserId: null, name: null, username: null });
  if (item.message?.is_echo) {
    // The business sent it: the customer is the recipient.
    return {
      ...base,
      kind: 'echo',
      businessAccountId: entryId ?? item.sender.id,
      customer: from(item.recipient.id),
      externalMessageId: item.message.mid,
      ...describe(item.message),
    };
  }
  const businessAccountId = entryId ?? item.recipient.id;
  const customer = from(item.sender.id);
  if (item.message?.is_deleted) {
    return { ...base, kind: 'deletion', businessAccountId, customer, targetExternalId: item.message.mid };
  }
  if (item.message) {
    return {
      ...base,
      kind: 'message',
      businessAccountId,
      customer,
      externalMessageId: item.message.mid,
      replyToExternalId: item.message.reply_to?.mid ?? null,
      ...describe(item.message),
    };
  }
  if (item.reaction) {
    return {
      ...base,
      kind: 'reaction',
      businessAccountId,
      customer,
      externalMessageId: null,
      targetExternalId: item.reaction.mid,
      emoji: item.reaction.action === 'react' ? (item.reaction.emoji ?? item.reaction.reaction ?? null) : null,
    };
  }
  if (item.read) return { ...base, kind: 'seen', businessAccountId, customer, targetExternalId: item.read.mid };
  if (item.postback) {
    return {
      ...base,
      kind: 'message',
      businessAccountId,
      customer,
      externalMessageId: item.postback.mid,
      replyToExternalId: null,
      messageType: 'TEXT',
      content: item.postback.title,
      metadata: compact({
        platformType: 'postback',
        postback: compact({ title: item.postback.title, payload: item.postback.payload }),
      }),
    };
  }
  return undefined;
}

// Media Meta hosts for us; link-like attachments (shares, story mentions, reels) read best as text with the link.
const MEDIA_TYPES: Record<string, MessageType> = { image: 'IMAGE', audio: 'AUDIO', video: 'FILE', file: 'FILE' };

function describe(message: InstagramMessage): {
  messageType: MessageType;
  content: string | null;
  metadata: JsonObject;
} {
  const attachments = message.attachments ?? [];
  const first = attachments[0];
  const common = {
    replyToStory: message.reply_to?.story
      ? compact({ id: message.reply_to.story.id, url: message.reply_to.story.url })
      : undefined,
    quickReplyPayload: message.quick_reply?.payload,
  };
  if (!first) {
    const unsupported = message.is_unsupported || message.text === undefined;
    return {
      messageType: 'TEXT',
      content: message.text ?? null,
      metadata: compact({
        platformType: unsupported ? 'unsupported' : 'text',
        unsupported: unsupported || undefined,
        ...common,
      }),
    };
  }
  const mediaType = MEDIA_TYPES[first.type];
  return {
    messageType: mediaType ?? 'TEXT',
    content: message.text ?? (mediaType ? null : (first.payload?.title ?? first.payload?.url ?? null)),
    metadata: compact({
      platformType: first.type,
      url: first.payload?.url,
      attachments: attachments.map((attachment) => compact({ type: attachment.type, ...attachment.payload })),
      ...common,
    }),
  };
}
