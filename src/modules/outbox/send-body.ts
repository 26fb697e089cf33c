import type { MessageType, Platform } from '../../generated/prisma/enums.js';
import { mediaRefusal } from './media-rules.js';

// The Send API request body for one of our messages, by platform. Shapes per Meta's documentation (see the
// fixtures in tests/fixtures/meta): WhatsApp text/media/template, Instagram text/attachment.

export interface OutboundContent {
  messageType: MessageType;
  content: string | null;
  /** messages.metadata: `url` or `mediaId` for media, `filename` for files, `template` for WhatsApp templates. */
  metadata: unknown;
  /** The platform id of the message this one replies to, when it has one on the same integration. */
  replyToExternalId: string | null;
  /** A link Meta can fetch the attachment from, for attachments the server stores (`metadata.uploadId`). */
  mediaUrl?: string | null;
}

export interface Recipient {
  platformUserId: string | null;
  scopedUserId: string | null;
}

/**
 * A WhatsApp template, in `metadata.template`: `{ name, language (code, e.g. "en_US"), components? }`, the
 * components as Meta takes them. Templates may be sent outside the 24-hour customer-service window.
 */
export interface TemplateSpec {
  name: string;
  language: string;
  components?: unknown[];
}

export type SendBody = { ok: true; body: object } | { ok: false; reason: string };

export function templateOf(metadata: unknown): TemplateSpec | null {
  const template = (metadata as { template?: unknown } | null)?.template as Partial<TemplateSpec> | undefined;
  if (!template || typeof template.name !== 'string' || typeof template.language !== 'string') return null;
  return {
    name: template.name,
    language: template.language,
    ...(Array.isArray(template.components) ? { components: template.components } : {}),
  };
}

export function buildSendBody(
  platform: Platform,
  recipient: Recipient,
  message: OutboundContent,
  options: { humanAgentTag?: boolean } = {},
): SendBody {
  return platform === 'WHATSAPP' ? whatsAppBody(recipient, message) : instagramBody(recipient, message, options);
}

const WHATSAPP_MEDIA: Record<Exclude<MessageType, 'TEXT'>, 'image' | 'audio' | 'document'> = {
  IMAGE: 'image',
  AUDIO: 'audio',
  FILE: 'document',
};

function whatsAppBody(recipient: Recipient, message: OutboundContent): SendBody {
  // A number goes in `to`; a user known only by business-scoped id is addressed by `recipient`.
  const address = recipient.platformUserId
    ? { to: recipient.platformUserId }
    : recipient.scopedUserId
      ? { recipient: recipient.scopedUserId }
      : null;
  if (!address) return { ok: false, reason: 'The link has no WhatsApp number or business-scoped id to send to' };
  const envelope = {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    ...address,
    ...(message.replyToExternalId ? { context: { message_id: message.replyToExternalId } } : {}),
  };
  const template = templateOf(message.metadata);
  if (template) {
    return {
      ok: true,
      body: {
        ...envelope,
        type: 'template',
        template: {
          name: template.name,
          language: { policy: 'deterministic', code: template.language },
          ...(template.components ? { components: template.components } : {}),
        },
      },
    };
  }
  if (message.messageType === 'TEXT') {
    if (!message.content) return { ok: false, reason: 'The message has no text to send' };
    return { ok: true, body: { ...envelope, type: 'text', text: { body: message.content } } };
  }
  const type = WHATSAPP_MEDIA[message.messageType];
  const media = mediaOf(message);
  if (!media.url && !media.id) return { ok: false, reason: 'The message has no media url or media id to send' };
  const refusal = mediaRefusal('WHATSAPP', message.messageType, media);
  if (refusal) return { ok: false, reason: refusal };
  return {
    ok: true,
    body: {
      ...envelope,
      type,
      [type]: {
        ...(media.url ? { link: media.url } : { id: media.id }),
        // WhatsApp refuses captions on audio.
        ...(message.content && type !== 'audio' ? { caption: message.content } : {}),
        ...(type === 'document' && media.filename ? { filename: media.filename } : {}),
      },
    },
  };
}

const INSTAGRAM_ATTACHMENTS: Record<Exclude<MessageType, 'TEXT'>, 'image' | 'audio' | 'file'> = {
  IMAGE: 'image',
  AUDIO: 'audio',
  FILE: 'file',
};

function instagramBody(recipient: Recipient, message: OutboundContent, options: { humanAgentTag?: boolean }): SendBody {
  if (!recipient.platformUserId) return { ok: false, reason: 'The link has no Instagram-scoped id to send to' };
  if (templateOf(message.metadata)) return { ok: false, reason: 'Templates are a WhatsApp feature' };
  // Beyond 24 hours (and within 7 days) of the customer's last message, a human agent may still answer.
  const tag = options.humanAgentTag ? { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' } : {};
  const to = { recipient: { id: recipient.platformUserId } };
  if (message.messageType === 'TEXT') {
    if (!message.content) return { ok: false, reason: 'The message has no text to send' };
    return { ok: true, body: { ...to, message: { text: message.content }, ...tag } };
  }
  const media = mediaOf(message);
  if (!media.url) return { ok: false, reason: 'The message has no media url to send (Instagram sends media by link)' };
  const refusal = mediaRefusal('INSTAGRAM', message.messageType, media);
  if (refusal) return { ok: false, reason: refusal };
  const attachment = { type: INSTAGRAM_ATTACHMENTS[message.messageType], payload: { url: media.url } };
  return { ok: true, body: { ...to, message: { attachment }, ...tag } };
}

/** The attachment as the Send API takes it: a link (ours for stored attachments) or a WhatsApp media id. */
function mediaOf(message: OutboundContent): {
  url?: string;
  id?: string;
  filename?: string;
  mimeType?: string;
  size?: number;
} {
  const value = (message.metadata ?? {}) as Record<string, unknown>;
  const text = (key: string) =>
    typeof value[key] === 'string' && value[key] !== '' ? (value[key] as string) : undefined;
  return {
    url: message.mediaUrl ?? text('url'),
    id: text('mediaId'),
    filename: text('filename') ?? text('fileName'),
    mimeType: text('mimeType'),
    size: typeof value.size === 'number' ? value.size : undefined,
  };
}
