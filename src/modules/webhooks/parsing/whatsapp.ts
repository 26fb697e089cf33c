import { z } from 'zod';
import type { MessageStatus, MessageType } from '../../../generated/prisma/enums.js';
import type {
  Customer,
  InboundEvent,
  JsonObject,
  JsonValue,
  ParsedDelivery,
  ParseProblem,
  PlatformError,
} from '../inbound-events.js';
import { compact, itemsOf, parseItem } from './shape.js';

// WhatsApp Cloud API webhooks: `entry[] x changes[] x value.messages[] / value.statuses[]`, every item of every
// array. Timestamps are strings of Unix seconds. Senders are `from` (wa_id, a number without `+`) and, for
// users with a username and no visible number, only the business-scoped `from_user_id` / `contacts[].user_id`.

const unixSeconds = z
  .union([z.string().regex(/^\d+$/, { error: 'must be Unix seconds' }), z.number().int().nonnegative()])
  .transform((value) => new Date(Number(value) * 1000));

const errorSchema = z
  .object({
    code: z.union([z.number(), z.string()]),
    title: z.string().optional(),
    message: z.string().optional(),
    error_data: z.object({ details: z.string().optional() }).loose().optional(),
  })
  .loose();

const mediaSchema = z
  .object({
    id: z.string().optional(),
    mime_type: z.string().optional(),
    sha256: z.string().optional(),
    caption: z.string().optional(),
    filename: z.string().optional(),
    url: z.string().optional(),
    voice: z.boolean().optional(),
    animated: z.boolean().optional(),
  })
  .loose();

const messageSchema = z
  .object({
    id: z.string().min(1),
    from: z.string().min(1).optional(),
    from_user_id: z.string().min(1).optional(),
    timestamp: unixSeconds,
    type: z.string().min(1),
    context: z
      .object({
        id: z.string().optional(),
        from: z.string().optional(),
        forwarded: z.boolean().optional(),
        frequently_forwarded: z.boolean().optional(),
      })
      .loose()
      .optional(),
    text: z.object({ body: z.string() }).loose().optional(),
    image: mediaSchema.optional(),
    audio: mediaSchema.optional(),
    video: mediaSchema.optional(),
    document: mediaSchema.optional(),
    sticker: mediaSchema.optional(),
    reaction: z
      .object({ message_id: z.string().min(1), emoji: z.string().optional() })
      .loose()
      .optional(),
    interactive: z
      .object({
        type: z.string(),
        button_reply: z.object({ id: z.string(), title: z.string() }).loose().optional(),
        list_reply: z
          .object({ id: z.string(), title: z.string(), description: z.string().optional() })
          .loose()
          .optional(),
        nfm_reply: z
          .object({ name: z.string().optional(), body: z.string().optional(), response_json: z.string().optional() })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
    button: z.object({ text: z.string(), payload: z.string().optional() }).loose().optional(),
    location: z
      .object({
        latitude: z.number(),
        longitude: z.number(),
        name: z.string().optional(),
        address: z.string().optional(),
        url: z.string().optional(),
      })
      .loose()
      .optional(),
    contacts: z.array(z.json()).optional(),
    errors: z.array(errorSchema).optional(),
    referral: z.record(z.string(), z.json()).optional(),
    order: z
      .object({
        catalog_id: z.string().optional(),
        text: z.string().optional(),
        product_items: z.array(z.json()).optional(),
      })
      .loose()
      .optional(),
    edit: z
      .object({ original_message_id: z.string().min(1), message: z.record(z.string(), z.unknown()) })
      .loose()
      .optional(),
    revoke: z
      .object({ original_message_id: z.string().min(1) })
      .loose()
      .optional(),
    system: z
      .object({
        type: z.string().optional(),
        body: z.string().optional(),
        new_wa_id: z.string().optional(),
        wa_id: z.string().optional(),
      })
      .loose()
      .optional(),
    unsupported: z.object({ type: z.string().optional() }).loose().optional(),
  })
  .loose()
  .refine((message) => message.from || message.from_user_id, { error: 'has neither from nor from_user_id' });

const statusSchema = z
  .object({
    id: z.string().min(1),
    status: z.string().min(1),
    timestamp: unixSeconds,
    recipient_id: z.string().optional(),
    recipient_user_id: z.string().optional(),
    errors: z.array(errorSchema).optional(),
  })
  .loose();

const contactSchema = z
  .object({
    wa_id: z.string().optional(),
    user_id: z.string().optional(),
    profile: z.object({ name: z.string().optional(), username: z.string().optional() }).loose().optional(),
  })
  .loose();

const valueSchema = z
  .object({
    metadata: z.object({ phone_number_id: z.string().min(1) }).loose(),
    contacts: z.array(z.unknown()).optional(),
    messages: z.array(z.unknown()).optional(),
    statuses: z.array(z.unknown()).optional(),
    errors: z.array(z.unknown()).optional(),
  })
  .loose();

const envelopeSchema = z
  .object({
    object: z.literal('whatsapp_business_account', { error: 'must be "whatsapp_business_account"' }),
    entry: z.array(z.object({ changes: z.array(z.unknown()), time: unixSeconds.optional() }).loose()),
  })
  .loose();

const templateStatusSchema = z
  .object({
    event: z.string().min(1).max(64),
    message_template_id: z.union([z.string(), z.number()]).optional(),
    message_template_name: z.string().min(1).max(512).optional(),
    message_template_language: z.string().min(1).max(32).optional(),
    reason: z.string().max(1000).nullish(),
  })
  .loose();

const changeSchema = z.object({ field: z.string(), value: z.unknown() }).loose();

type WhatsAppMessage = z.output<typeof messageSchema>;
type WhatsAppContact = z.output<typeof contactSchema>;

const STATUSES: Record<string, MessageStatus> = {
  sent: 'SENT',
  delivered: 'DELIVERED',
  read: 'READ',
  played: 'READ',
  failed: 'FAILED',
};

export function parseWhatsAppDelivery(body: unknown): ParsedDelivery {
  const events: InboundEvent[] = [];
  const problems: ParseProblem[] = [];
  const envelope = parseItem(envelopeSchema, body, '(delivery)', problems);
  if (!envelope) return { events, problems };
  envelope.entry.forEach((entry, entryIndex) => {
    for (const change of itemsOf(entry.changes, `entry[${entryIndex}].changes`)) {
      const parsedChange = parseItem(changeSchema, change.value, change.path, problems);
      if (parsedChange?.field === 'message_template_status_update') {
        const update = parseItem(templateStatusSchema, parsedChange.value, `${change.path}.value`, problems);
        if (update) events.push(templateStatusEvent(update, entry.time ?? new Date(), `${change.path}.value`));
        continue;
      }
      // Other fields (account updates, quality ratings, ...) are not conversations.
      if (!parsedChange || parsedChange.field !== 'messages') continue;
      const valuePath = `${change.path}.value`;
      const value = parseItem(valueSchema, parsedChange.value, valuePath, problems);
      if (!value) continue;
      const businessAccountId = value.metadata.phone_number_id;
      const contacts = itemsOf(value.contacts, `${valuePath}.contacts`).flatMap((contact): WhatsAppContact[] => {
        const parsed = parseItem(contactSchema, contact.value, contact.path, problems);
        return parsed ? [parsed] : [];
      });
      const changeErrors = itemsOf(value.errors, `${valuePath}.errors`).flatMap((item) => {
        const parsed = parseItem(errorSchema, item.value, item.path, problems);
        return parsed ? [platformError(parsed)] : [];
      });
      if (changeErrors.length > 0)
        events.push({
          kind: 'platform-errors',
          path: `${valuePath}.errors`,
          businessAccountId,
          timestamp: entry.time ?? new Date(),
          errors: changeErrors,
        });
      for (const item of itemsOf(value.messages, `${valuePath}.messages`)) {
        const message = parseItem(messageSchema, item.value, item.path, problems);
        if (!message) continue;
        events.push(messageEvent(message, contacts, businessAccountId, item.path));
        // Errors Meta attached to a message are kept with the delivery too, where admins look for them.
        if (message.errors?.length)
          events.push({
            kind: 'platform-errors',
            path: `${item.path}.errors`,
            businessAccountId,
            timestamp: message.timestamp,
            errors: message.errors.map(platformError),
          });
      }
      for (const item of itemsOf(value.statuses, `${valuePath}.statuses`)) {
        const status = parseItem(statusSchema, item.value, item.path, problems);
        const mapped = status && STATUSES[status.status];
        // Statuses of other kinds (e.g. `deleted`, `warning`) have nothing to update.
        if (!status || !mapped) continue;
        events.push({
          kind: 'status',
          path: item.path,
          businessAccountId,
          timestamp: status.timestamp,
          externalMessageId: status.id,
          recipientId: status.recipient_id ?? status.recipient_user_id ?? null,
          status: mapped,
          platformStatus: status.status,
          error: status.errors?.[0] ? platformError(status.errors[0]) : null,
        });
      }
    }
  });
  return { events, problems };
}

function templateStatusEvent(
  update: z.output<typeof templateStatusSchema>,
  timestamp: Date,
  path: string,
): InboundEvent {
  return {
    kind: 'template-status',
    path,
    businessAccountId: null,
    timestamp,
    templateId: update.message_template_id === undefined ? null : String(update.message_template_id),
    name: update.message_template_name ?? null,
    language: update.message_template_language ?? null,
    status: update.event.toUpperCase(),
    reason: update.reason && update.reason !== 'NONE' ? update.reason : null,
  };
}

function messageEvent(
  message: WhatsAppMessage,
  contacts: WhatsAppContact[],
  businessAccountId: string,
  path: string,
): InboundEvent {
  const base = { path, businessAccountId, timestamp: message.timestamp, customer: customerOf(message, contacts) };
  if (message.type === 'reaction' && message.reaction) {
    return {
      ...base,
      kind: 'reaction',
      externalMessageId: message.id,
      targetExternalId: message.reaction.message_id,
      emoji: message.reaction.emoji ? message.reaction.emoji : null,
    };
  }
  if (message.type === 'revoke' && message.revoke)
    return { ...base, kind: 'deletion', targetExternalId: message.revoke.original_message_id };
  if (message.type === 'edit' && message.edit) {
    // The edited message has a message's shape (type and content) under `edit.message`.
    const edited = messageSchema.safeParse({
      ...message.edit.message,
      id: message.id,
      from: message.from,
      from_user_id: message.from_user_id,
      timestamp: Math.floor(message.timestamp.getTime() / 1000),
    });
    if (edited.success) {
      const { messageType, content, details } = describe(edited.data);
      return {
        ...base,
        kind: 'edit',
        targetExternalId: message.edit.original_message_id,
        messageType,
        content,
        metadata: compact({ platformType: edited.data.type, ...details }),
      };
    }
  }
  const newNumber = message.system?.new_wa_id ?? message.system?.wa_id;
  if (message.type === 'system' && message.system?.type === 'user_changed_number' && newNumber)
    return { ...base, kind: 'number-change', newPlatformUserId: newNumber };
  const { messageType, content, details } = describe(message);
  return {
    ...base,
    kind: 'message',
    externalMessageId: message.id,
    messageType,
    content,
    metadata: compact({
      platformType: message.type,
      ...details,
      forwarded: message.context?.forwarded,
      frequentlyForwarded: message.context?.frequently_forwarded,
      // A click-to-WhatsApp ad or post the customer came from: kept for staff.
      referral: message.referral,
    }),
    replyToExternalId: message.context?.id ?? null,
  };
}

function describe(message: WhatsAppMessage): {
  messageType: MessageType;
  content: string | null;
  details: Record<string, JsonValue | undefined>;
} {
  const media = (messageType: MessageType, value: z.output<typeof mediaSchema>) => ({
    messageType,
    content: value.caption ?? null,
    details: {
      mediaId: value.id,
      mimeType: value.mime_type,
      sha256: value.sha256,
      caption: value.caption,
      filename: value.filename,
      url: value.url,
      voice: value.voice,
      animated: value.animated,
    },
  });
  switch (message.type) {
    case 'text':
      if (message.text) return { messageType: 'TEXT', content: message.text.body, details: {} };
      break;
    case 'image':
      if (message.image) return media('IMAGE', message.image);
      break;
    case 'sticker':
      if (message.sticker) return media('IMAGE', message.sticker);
      break;
    case 'audio':
      if (message.audio) return media('AUDIO', message.audio);
      break;
    case 'document':
      if (message.document) return media('FILE', message.document);
      break;
    case 'video':
      if (message.video) return media('FILE', message.video);
      break;
    case 'order':
      if (message.order) {
        const { catalog_id, text, product_items } = message.order;
        return {
          messageType: 'TEXT',
          content: text ?? null,
          details: { order: compact({ catalogId: catalog_id, text, productItems: product_items }) },
        };
      }
      break;
    case 'interactive': {
      const flow = message.interactive?.nfm_reply;
      if (message.interactive?.type === 'nfm_reply' && flow) {
        return {
          messageType: 'TEXT',
          content: flow.body ?? null,
          details: {
            interactive: compact({
              type: 'nfm_reply',
              name: flow.name,
              body: flow.body,
              response: flow.response_json === undefined ? undefined : jsonOrText(flow.response_json),
            }),
          },
        };
      }
      const reply = message.interactive?.button_reply ?? message.interactive?.list_reply;
      if (reply && message.interactive) {
        return {
          messageType: 'TEXT',
          content: reply.title,
          details: {
            interactive: compact({ type: message.interactive.type, ...pick(reply, ['id', 'title', 'description']) }),
          },
        };
      }
      break;
    }
    case 'button':
      if (message.button) {
        return {
          messageType: 'TEXT',
          content: message.button.text,
          details: { button: compact({ text: message.button.text, payload: message.button.payload }) },
        };
      }
      break;
    case 'location':
      if (message.location) {
        const { latitude, longitude, name, address, url } = message.location;
        return {
          messageType: 'TEXT',
          content: [name, address].filter(Boolean).join(', ') || `${latitude}, ${longitude}`,
          details: { location: compact({ latitude, longitude, name, address, url }) },
        };
      }
      break;
    case 'contacts':
      if (message.contacts) return { messageType: 'TEXT', content: null, details: { contacts: message.contacts } };
      break;
  }
  // Kept, so that staff see that the customer sent something, and flagged with Meta's explanation.
  return {
    messageType: 'TEXT',
    content: null,
    details: {
      unsupported: true,
      // What Meta says it was (`unsupported.type`, e.g. a video note), else the type it gave.
      unsupportedType: message.unsupported?.type ?? (message.type === 'unsupported' ? undefined : message.type),
      errors: message.errors?.map((error) => compact({ ...platformError(error) })),
    },
  };
}

/** A flow's answer (`response_json`, a JSON string) as JSON, or as the text it is when it is not JSON. */
function jsonOrText(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

function customerOf(message: WhatsAppMessage, contacts: WhatsAppContact[]): Customer {
  const contact =
    contacts.find(
      (candidate) =>
        (message.from && candidate.wa_id === message.from) ||
        (message.from_user_id && candidate.user_id === message.from_user_id),
    ) ?? (contacts.length === 1 ? contacts[0] : undefined);
  return {
    platformUserId: message.from ?? null,
    scopedUserId: message.from_user_id ?? contact?.user_id ?? null,
    name: contact?.profile?.name ?? null,
    username: contact?.profile?.username ?? null,
  };
}

function platformError(error: z.output<typeof errorSchema>): PlatformError {
  return {
    code: String(error.code),
    title: error.title ?? error.message ?? 'Unknown error',
    message: error.message ?? null,
    details: error.error_data?.details ?? null,
  };
}

function pick<T extends object>(value: T, keys: string[]): JsonObject {
  return Object.fromEntries(
    keys.filter((key) => key in value).map((key) => [key, (value as Record<string, JsonValue>)[key]!]),
  );
}
