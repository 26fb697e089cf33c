import { z } from 'zod';
import { httpsUrl } from '../../lib/validation.js';

/** WhatsApp's limit for a text message, applied to every message so any of them can be relayed. */
export const MAX_CONTENT_LENGTH = 4096;
const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;
const MAX_TEXT_METADATA_BYTES = 16 * 1024;

/** Length in characters as people count them (code points), not UTF-16 units. */
const characters = (value: string) => [...value].length;

export const messageContent = z.string().refine((value) => characters(value) <= MAX_CONTENT_LENGTH, {
  error: `must be at most ${MAX_CONTENT_LENGTH} characters`,
});

const attachment = (mimePattern: RegExp, kind: string, fileNameRequired: boolean) =>
  z
    .object({
      url: httpsUrl,
      mimeType: z
        .string()
        .max(255)
        .regex(mimePattern, { error: `must be a ${kind} MIME type` }),
      size: z.number().int().positive().max(MAX_ATTACHMENT_BYTES, { error: 'must be at most 100 MiB' }),
      fileName: fileNameRequired ? z.string().trim().min(1).max(255) : z.string().trim().min(1).max(255).optional(),
      durationSeconds: z.number().positive().max(86_400).optional(),
      width: z.number().int().positive().max(100_000).optional(),
      height: z.number().int().positive().max(100_000).optional(),
    })
    .strict();

const ATTACHMENT_METADATA = {
  IMAGE: attachment(/^image\/[\w.+-]+$/, 'image', false),
  AUDIO: attachment(/^audio\/[\w.+-]+$/, 'audio', false),
  FILE: attachment(/^[\w.+-]+\/[\w.+-]+$/, 'valid', true),
} as const;

export interface SendMessageFields {
  content?: string | null;
  messageType?: 'TEXT' | 'IMAGE' | 'AUDIO' | 'FILE' | null;
  metadata?: unknown;
  uploadId?: string | number | null;
}

/**
 * The rules that need the whole input: a text message needs text; an attachment is an upload (`uploadId`, whose
 * stored type is checked when it is claimed) or its description (url, MIME type of the right kind, size, and a
 * file name for files), and may carry a caption.
 */
export function checkMessageShape(input: SendMessageFields, context: z.RefinementCtx): void {
  const messageType = input.messageType ?? 'TEXT';
  if (input.uploadId !== null && input.uploadId !== undefined) {
    if (messageType === 'TEXT')
      context.addIssue({ code: 'custom', path: ['uploadId'], message: 'an upload is sent as IMAGE, AUDIO or FILE' });
    if (input.metadata !== null && input.metadata !== undefined)
      context.addIssue({ code: 'custom', path: ['metadata'], message: 'give either uploadId or metadata, not both' });
    return;
  }
  if (messageType === 'TEXT') {
    if (!input.content?.trim()) {
      context.addIssue({ code: 'custom', path: ['content'], message: 'a text message needs content' });
    }
    if (input.metadata !== null && input.metadata !== undefined) {
      if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) {
        context.addIssue({ code: 'custom', path: ['metadata'], message: 'must be a JSON object' });
      } else if (JSON.stringify(input.metadata).length > MAX_TEXT_METADATA_BYTES) {
        context.addIssue({ code: 'custom', path: ['metadata'], message: 'must be at most 16 KiB' });
      }
    }
    return;
  }
  const parsed = ATTACHMENT_METADATA[messageType].safeParse(input.metadata ?? undefined);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      context.addIssue({
        code: 'custom',
        path: ['metadata', ...issue.path.map(String)],
        message:
          input.metadata == null
            ? `a ${messageType.toLowerCase()} message needs metadata (url, mimeType, size)`
            : issue.message,
      });
    }
  }
}

// One emoji as Unicode's emoji specification (UTS #51) builds them: a pictograph with an optional presentation
// selector or skin tone (👍🏽) and an optional tag sequence (the flags of England, Scotland, Wales), a flag of two
// regional indicators (🇫🇷), or a keycap (1️⃣); or several of those joined by zero-width joiners (👩🏽‍💻, 🏳️‍🌈).
// Extended_Pictographic also holds the code points set aside for emoji not assigned yet, so emoji newer than
// this Node.js pass as well.
const EMOJI_PART = String.raw`(?:\p{Regional_Indicator}{2}|[#*0-9]\uFE0F?\u20E3|(?:\p{Extended_Pictographic}|\p{Emoji_Presentation})(?:\p{Emoji_Modifier}|[\uFE0E\uFE0F])?(?:[\u{E0020}-\u{E007E}]+\u{E007F})?)`;
const ONE_EMOJI = new RegExp(String.raw`^${EMOJI_PART}(?:\u200D${EMOJI_PART})*$`, 'u');
/** A :shortcode: as Slack, GitHub and Discord write them, custom emoji names included. */
const SHORTCODE = /^:[A-Za-z0-9_+-]+:$/;

/** A reaction: exactly one emoji, or one :shortcode:. */
export const emoji = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(64, { error: 'must be at most 64 characters' })
  .refine((value) => ONE_EMOJI.test(value) || SHORTCODE.test(value), {
    error: 'must be a single emoji or :shortcode:',
  });
