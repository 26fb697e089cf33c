import type { Session } from '../../auth/session.js';
import type { MessageType, Platform } from '../../generated/prisma/enums.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import { assertPostable, seesStaffOnly } from '../access/channel-rules.js';
import { forbidden } from '../../lib/errors.js';
import type { CustomerServiceWindow } from '../outbox/customer-window.js';
import { mediaRefusal } from '../outbox/media-rules.js';
import { templateOf } from '../outbox/send-body.js';
import type { MessageEvents } from './message-events.js';
import type { MessageRecord } from './message-record.js';
import type { MessageDraft, MessageWriter } from './message-writer.js';
import type { MessageService } from './messages.service.js';
import type { UploadService } from '../media/uploads.service.js';
import { badInput } from '../../lib/errors.js';

export interface SendMessageInput {
  channelId: string;
  content?: string | null;
  messageType?: MessageType | null;
  metadata?: unknown;
  threadId?: string | null;
  /** An internal note: staff only, never sent to the client's platform. */
  internal?: boolean | null;
  /** An upload of the viewer's (createUpload), which this message uses up. */
  uploadId?: string | null;
}

/** Why one of the client's platforms would refuse the attachment (Meta's type and size rules), if one would. */
function platformRefusal(
  platforms: Platform[],
  messageType: MessageType,
  media: { mimeType?: string; size?: number },
): string | null {
  for (const platform of platforms) {
    const refusal = mediaRefusal(platform, messageType, { mimeType: media.mimeType, size: media.size });
    if (refusal) return refusal;
  }
  return null;
}

/** The kinds of bytes each attachment type takes (a FILE takes anything). */
const UPLOAD_KINDS: Partial<Record<MessageType, { prefix: string; name: string }>> = {
  IMAGE: { prefix: 'image/', name: 'an image' },
  AUDIO: { prefix: 'audio/', name: 'audio' },
};

/** What SendMessage is built from. */
export interface SendMessageDeps {
  /** Who may post where (cached per instance, forgotten on every access change), and joining by posting. */
  channels: Pick<ChannelService, 'cachedFacts' | 'joinOnPost'>;
  /** The thread a reply joins. */
  messages: Pick<MessageService, 'threadForReply'>;
  /** Whether a client's platform accepts a free-form message now. */
  customerWindow: Pick<CustomerServiceWindow, 'assertOpen'>;
  /** Numbers and stores the message, with its platform deliveries in the same transaction. */
  writer: MessageWriter;
  events: MessageEvents;
  /** A client's message reopens their resolved conversation. */
  conversations: Pick<ConversationService, 'reopenOnClientMessage'>;
  /** The uploads a message's attachment comes from. */
  uploads: Pick<UploadService, 'claim' | 'attach' | 'release'>;
}

/** Sending a message, step by step: the one path for in-app messages (GraphQL and the CLI's seed). */
export class SendMessage {
  constructor(private readonly deps: SendMessageDeps) {}

  async execute(session: Session, input: SendMessageInput): Promise<MessageRecord> {
    const { channels, messages, customerWindow, writer, events, conversations, uploads } = this.deps;
    const viewer = session.viewer;
    // 1. Access: the viewer may post in the channel.
    const channel = assertPostable(viewer, await channels.cachedFacts(viewer, input.channelId));
    const internal = input.internal ?? false;
    if (internal && !seesStaffOnly(viewer)) throw forbidden('Only staff write internal notes');
    const draft: MessageDraft = {
      channelId: input.channelId,
      userId: viewer.id,
      content: input.content ?? null,
      messageType: input.messageType ?? 'TEXT',
      metadata: input.metadata ?? null,
      threadId: input.threadId ? await messages.threadForReply(viewer, input.channelId, input.threadId) : null,
      messageSource: 'INTERNAL',
      internal,
    };
    // 2. Policy: staff writing to clients reach their platforms, which take free-form messages only within the
    //    customer-service window (a WhatsApp template may open a closed one). An internal note goes nowhere.
    const platforms =
      channel.hasClients && viewer.role !== 'CLIENT' && !internal && !templateOf(draft.metadata)
        ? await customerWindow.assertOpen(viewer.organizationId, channel.channelId)
        : [];
    await channels.joinOnPost(viewer, channel);
    // 3. The attachment: the viewer's upload, taken so that no other message can use it, and of the right kind.
    const upload = input.uploadId ? await uploads.claim(viewer, input.uploadId, 'input.uploadId') : undefined;
    if (upload) {
      const kind = UPLOAD_KINDS[draft.messageType];
      const refusal =
        kind && !upload.mimeType.startsWith(kind.prefix)
          ? `the upload is ${upload.mimeType}, not ${kind.name}; send it as FILE`
          : platformRefusal(platforms, draft.messageType, upload);
      if (refusal) {
        await uploads.release(upload.uploadId);
        throw badInput('input.uploadId', refusal);
      }
      draft.metadata = upload;
    } else if (draft.messageType !== 'TEXT') {
      // The older form: an attachment hosted elsewhere, described in metadata.
      const described = (draft.metadata ?? {}) as { mimeType?: string; size?: number };
      const refusal = platformRefusal(platforms, draft.messageType, described);
      if (refusal) throw badInput('input.metadata', refusal);
    }
    // 4. Write: numbered in the organization's order; its platform deliveries are queued in the same transaction.
    const { message } = await writer.insert(viewer.organizationId, draft).catch(async (error: unknown) => {
      if (upload) await uploads.release(upload.uploadId);
      throw error;
    });
    if (upload) await uploads.attach(upload.uploadId, message.id);
    // 5. Publish, now that it is committed.
    events.publish('CREATED', message, session.requestId);
    if (viewer.role === 'CLIENT')
      await conversations.reopenOnClientMessage(viewer.organizationId, message.channelId, viewer.id);
    return message;
  }
}
