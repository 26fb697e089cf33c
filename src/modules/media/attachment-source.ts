/** Where a message's attachment is, read from the message's metadata (see send-message.ts). */
export type AttachmentSource =
  | { kind: 'stored'; uploadId: string }
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
 * A message's attachment: bytes the server stores (`metadata.uploadId`), or a file its sender hosts
 * (`metadata.url`, the older form). None for text messages and deleted ones.
 */
export function attachmentSource(message: {
  id: string;
  messageType: string;
  metadata: unknown;
  deletedAt: Date | null;
}): AttachmentSource | undefined {
  if (message.deletedAt || message.messageType === 'TEXT') return undefined;
  const metadata = message.metadata as Record<string, unknown> | null;
  if (!metadata || typeof metadata !== 'object') return undefined;
  if (typeof metadata.uploadId === 'string') return { kind: 'stored', uploadId: metadata.uploadId };
  if (typeof metadata.url !== 'string') return undefined;
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
