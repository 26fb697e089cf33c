import { z } from 'zod';
import { MediaStatus } from '../../generated/prisma/enums.js';
import type { Upload } from '../../generated/prisma/client.js';
import { builder } from '../../schema/builder.js';
import type { GraphQLContext } from '../../schema/context.js';
import { MessageRef } from '../messages/messages.schema.js';
import { attachmentSource } from './attachment-source.js';
import type { UploadTicket } from './uploads.service.js';

const UploadRef = builder.objectRef<UploadTicket>('Upload').implement({
  description: 'Where to PUT the bytes of a new attachment; then send it with `sendMessage(input: { uploadId })`.',
  fields: (t) => ({
    id: t.exposeID('id'),
    uploadUrl: t.exposeString('uploadUrl', {
      description: 'PUT the bytes here (no Authorization header: the link is signed), before `expiresAt`.',
    }),
    uploadHeaders: t.expose('uploadHeaders', { type: 'JSON', description: 'Headers to send with the PUT.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      description: 'The link stops working, and an upload no message used is removed, after this.',
    }),
  }),
});

const AttachmentStatusEnum = builder.enumType(MediaStatus, {
  name: 'AttachmentStatus',
  description: 'PENDING while the bytes are on their way into storage; FAILED when that was given up.',
});

/** An attachment as the API shows it: stored bytes (an upload), or a file its sender hosts elsewhere. */
interface AttachmentView {
  id: string;
  status: MediaStatus;
  url: string | null;
  mimeType: string;
  size: number | null;
  fileName: string | null;
  width: number | null;
  height: number | null;
  failureReason: string | null;
}

const AttachmentRef = builder.objectRef<AttachmentView>('Attachment').implement({
  fields: (t) => ({
    id: t.exposeID('id', { description: "The upload's id; the message's for a file hosted elsewhere." }),
    status: t.expose('status', { type: AttachmentStatusEnum }),
    url: t.exposeString('url', {
      nullable: true,
      description:
        'A signed link that expires (MEDIA_URL_TTL) and needs no Authorization header (`<img src>` works); it ' +
        'honours Range. Null until the bytes are stored.',
    }),
    mimeType: t.exposeString('mimeType', { description: 'Sniffed from the bytes for stored attachments.' }),
    size: t.exposeInt('size', { nullable: true }),
    fileName: t.exposeString('fileName', { nullable: true }),
    width: t.exposeInt('width', { nullable: true }),
    height: t.exposeInt('height', { nullable: true }),
    failureReason: t.exposeString('failureReason', { nullable: true, description: 'Why a FAILED download failed.' }),
  }),
});

const attachmentsOf = (context: GraphQLContext) =>
  context.loaders.get<string, Upload | null>('attachments', (messageIds) =>
    context.services.uploads.byMessageIds(context.session.organizationId, messageIds),
  );

function storedAttachment(upload: Upload, context: GraphQLContext): AttachmentView {
  return {
    id: upload.id,
    status: upload.status,
    url: context.services.uploads.downloadUrl(upload),
    mimeType: upload.mimeType ?? upload.declaredMimeType,
    size: upload.size ?? upload.declaredSize,
    fileName: upload.fileName,
    width: upload.width,
    height: upload.height,
    failureReason: upload.failureReason,
  };
}

builder.objectField(MessageRef, 'attachment', (t) =>
  t.field({
    type: AttachmentRef,
    nullable: true,
    description: 'The image, audio or file the message carries; null for text and once the message is deleted.',
    resolve: async (message, _args, context) => {
      const source = attachmentSource(message);
      if (!source) return null;
      if (source.kind === 'hosted') return { ...source.attachment, status: 'READY' as const, failureReason: null };
      const upload = await attachmentsOf(context).load(message.id);
      return upload ? storedAttachment(upload, context) : null;
    },
  }),
);

const CreateUploadInput = builder.inputType('CreateUploadInput', {
  fields: (t) => ({
    fileName: t.string({ required: true, validate: z.string().trim().min(1).max(255) }),
    mimeType: t.string({
      required: true,
      validate: z
        .string()
        .max(255)
        .regex(/^[\w.+-]+\/[\w.+-]+$/, { error: 'must be a MIME type' }),
    }),
    size: t.int({ required: true, validate: z.number().int().min(1, { error: 'must be at least 1 byte' }) }),
  }),
});

builder.mutationFields((t) => ({
  createUpload: t.field({
    type: UploadRef,
    description:
      'Starts an attachment: PUT its bytes to `uploadUrl`, then send it with `sendMessage(input: { uploadId })`. ' +
      'Larger than MEDIA_MAX_BYTES: BAD_USER_INPUT.',
    args: { input: t.arg({ type: CreateUploadInput, required: true }) },
    resolve: (_root, { input }, context) => context.services.uploads.create(context.session.viewer, input),
  }),
}));
