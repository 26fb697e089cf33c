/** Where a message's attachment is, read from the message's metadata (see send-message.ts). */
export type AttachmentSource =
  | { kind: 'stored' }
  | {
      kind: 'hosted';
      attachment: {
        id: string;
        url: string;
        mimeType: string;
        size: number | null;
        fileName: string | null;
        width: number | null;
        height: number | null;
      };
    };

/**
 * A message's attachment: bytes the server stores (an upload, or platform media), read from `uploads` by the
 * message's id; or, for an in-app message in the older form, a file its sender hosts (`metadata.url`). None for
 * text messages and deleted ones.
 */
export function attachmentSource(message: {
  id: string;
  messageType: string;
  messageSource: string;
  metadata: unknown;
  deletedAt: Date | null;
}): AttachmentSource | undefined {
  if (message.deletedAt || message.messageType === 'TEXT') return undefined;
  const metadata = (message.metadata ?? {}) as Record<string, unknown>;
  const hosted = message.messageSource === 'INTERNAL' && !metadata.uploadId && typeof metadata.url === 'string';
  if (!hosted || typeof metadata.url !== 'string') return { kind: 'stored' };
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const number = (value: unknown) => (typeof value === 'number' ? value : null);
  return {
    kind: 'hosted',
    attachment: {
      id: message.id,
      url: metadata.url,
      mimeType: text(metadata.mimeType) ?? 'application/octet-stream',
      size: number(metadata.size),
      fileName: text(metadata.fileName),
      width: number(metadata.width),
      height: number(metadata.height),
    },
  };
}
