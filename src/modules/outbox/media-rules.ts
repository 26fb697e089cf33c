import type { MessageType, Platform } from '../../generated/prisma/enums.js';

// What Meta accepts as media, per platform and kind (WhatsApp Cloud API "Supported media types"; Instagram
// Messaging API "Send a message: attachments"). Checked before a staff attachment is queued (BAD_USER_INPUT) and
// again by the outbox for what was queued anyway (FAILED, with the same reason).

interface Rule {
  /** Accepted MIME types; undefined: any. */
  types?: readonly string[];
  maxBytes: number;
  /** How people name the accepted types. */
  described: string;
}

const MB = 1024 * 1024;

const RULES: Record<Platform, Record<Exclude<MessageType, 'TEXT'>, Rule>> = {
  WHATSAPP: {
    IMAGE: { types: ['image/jpeg', 'image/png'], maxBytes: 5 * MB, described: 'JPEG or PNG' },
    AUDIO: {
      types: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg'],
      maxBytes: 16 * MB,
      described: 'AAC, AMR, MP3, M4A or OGG (Opus)',
    },
    // Sent as a document: any type.
    FILE: { maxBytes: 100 * MB, described: 'any file' },
  },
  INSTAGRAM: {
    IMAGE: { types: ['image/jpeg', 'image/png', 'image/gif'], maxBytes: 8 * MB, described: 'JPEG, PNG or GIF' },
    AUDIO: {
      types: ['audio/aac', 'audio/mp4', 'audio/x-m4a', 'audio/wav', 'audio/x-wav', 'audio/vnd.wave'],
      maxBytes: 25 * MB,
      described: 'AAC, M4A or WAV',
    },
    FILE: { types: ['application/pdf'], maxBytes: 25 * MB, described: 'PDF' },
  },
};

const PLATFORM_NAMES: Record<Platform, string> = { WHATSAPP: 'WhatsApp', INSTAGRAM: 'Instagram' };
const KIND_NAMES: Record<Exclude<MessageType, 'TEXT'>, string> = { IMAGE: 'an image', AUDIO: 'audio', FILE: 'a file' };

/**
 * Why the platform would refuse this attachment, or null when it takes it. What is not known (the type or size of
 * a file hosted elsewhere, say) is left for Meta to judge.
 */
export function mediaRefusal(
  platform: Platform,
  messageType: MessageType,
  media: { mimeType?: string; size?: number },
): string | null {
  if (messageType === 'TEXT') return null;
  const rule = RULES[platform][messageType];
  const kind = KIND_NAMES[messageType];
  const name = PLATFORM_NAMES[platform];
  const mimeType = media.mimeType?.toLowerCase().split(';')[0]?.trim();
  if (rule.types && mimeType && !rule.types.includes(mimeType))
    return `${name} takes ${kind} only as ${rule.described}, not ${mimeType}`;
  if (media.size !== undefined && media.size > rule.maxBytes)
    return `${name} takes ${kind} of at most ${rule.maxBytes / MB} MB; this one is ${(media.size / MB).toFixed(1)} MB`;
  return null;
}
