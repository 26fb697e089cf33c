import type { Session } from '../../auth/session.js';
import type { MessageType } from '../../generated/prisma/enums.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import { assertPostable, seesStaffOnly } from '../access/channel-rules.js';
import { forbidden } from '../../lib/errors.js';
import type { CustomerServiceWindow } from '../outbox/customer-window.js';
import { templateOf } from '../outbox/send-body.js';
import type { MessageEvents } from './message-events.js';
import type { MessageRecord } from './message-record.js';
import type { MessageDraft, MessageWriter } from './message-writer.js';
import type { MessageService } from './messages.service.js';

export interface SendMessageInput {
  channelId: string;
  content?: string | null;
  messageType?: MessageType | null;
  metadata?: unknown;
  threadId?: string | null;
  /** An internal note: staff only, never sent to the client's platform. */
  internal?: boolean | null;
}

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
}

/** Sending a message, step by step: the one path for in-app messages (GraphQL and the CLI's seed). */
export class SendMessage {
  constructor(private readonly deps: SendMessageDeps) {}

  async execute(session: Session, input: SendMessageInput): Promise<MessageRecord> {
    const { channels, messages, customerWindow, writer, events, conversations } = this.deps;
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
    if (channel.hasClients && viewer.role !== 'CLIENT' && !internal && !templateOf(draft.metadata))
      await customerWindow.assertOpen(viewer.organizationId, channel.channelId);
    await channels.joinOnPost(viewer, channel);
    // 3. Write: numbered in the organization's order; its platform deliveries are queued in the same transaction.
    const { message } = await writer.insert(viewer.organizationId, draft);
    // 4. Publish, now that it is committed.
    events.publish('CREATED', message, session.requestId);
    if (viewer.role === 'CLIENT')
      await conversations.reopenOnClientMessage(viewer.organizationId, message.channelId, viewer.id);
    return message;
  }
}
