import type { Database } from '../../db/database.js';
import type { ClientLinkService } from '../client-links/links.service.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import type { TemplateService } from '../templates/templates.service.js';
import type { UploadService } from '../media/uploads.service.js';
import { acceptsResponses } from '../messages/message-record.js';
import type { MessageService } from '../messages/messages.service.js';
import type { ReactionService } from '../reactions/reactions.service.js';
import type { ReadStateService } from '../read-state/read-state.service.js';
import type {
  InboundEventHandler,
  RoutedDeletion,
  RoutedEcho,
  RoutedEdit,
  RoutedNumberChange,
  RoutedMessage,
  RoutedReaction,
  RoutedSeen,
  RoutedStatus,
  RoutedTemplateStatus,
} from './inbound-handler.js';

/** What InboundMessaging is built from. */
export interface InboundMessagingDeps {
  db: Database;
  /** Where the media of customers' messages is queued for download (stored PENDING until it arrives). */
  media: { expectPlatformMedia: UploadService['expectPlatformMedia']; wake(): void };
}

/**
 * Applies routed platform events through the same services as in-app changes, so every one of them is
 * stored once and announced with the same realtime events: a customer's message is a message of their
 * client user in their channel, a reaction is that user's reaction, a status is that user's status.
 */
export class InboundMessaging implements InboundEventHandler {
  constructor(
    private readonly deps: InboundMessagingDeps,
    private readonly messageService: MessageService,
    private readonly reactions: ReactionService,
    private readonly readState: ReadStateService,
    private readonly conversations: Pick<ConversationService, 'reopenOnClientMessage'>,
    private readonly templates: Pick<TemplateService, 'applyStatusUpdate'>,
    private readonly links: Pick<ClientLinkService, 'followNumberChange'>,
  ) {}

  /**
   * Drafts are made first, in order (a reply reads its parent); then every insert is queued in that order at
   * once, so the writer stores the run in one transaction, in delivery order.
   */
  async messages(run: RoutedMessage[]): Promise<(Error | null)[]> {
    const drafts = [];
    for (const routed of run) drafts.push(await this.draftOf(routed));
    const outcomes = await Promise.allSettled(
      drafts.map(async (draft, index) => {
        const routed = run[index]!;
        const ingested = await this.messageService.ingest(routed.integration.organizationId, draft, routed.requestId);
        // After the message: a failure here fails the item, and the delivery's replay (the message is stored
        // once however often it comes) reopens the conversation then.
        await this.conversations.reopenOnClientMessage(
          routed.integration.organizationId,
          routed.channelId,
          routed.clientUserId,
        );
        return ingested;
      }),
    );
    // Every stored message, new or redelivered, has its download queued (a crash between the two is mended by
    // the redelivery); a failure here fails the delivery, which is then processed again.
    const stored = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value.message] : []));
    if ((await this.deps.media.expectPlatformMedia(stored)) > 0) this.deps.media.wake();
    return outcomes.map((outcome) =>
      outcome.status === 'rejected'
        ? outcome.reason instanceof Error
          ? outcome.reason
          : new Error(String(outcome.reason))
        : null,
    );
  }

  private async draftOf(routed: RoutedMessage) {
    const { event, integration } = routed;
    return {
      channelId: routed.channelId,
      userId: routed.clientUserId,
      content: event.content,
      messageType: event.messageType,
      metadata: { ...event.metadata, sentAt: event.timestamp.toISOString() },
      threadId: await this.threadFor(integration.organizationId, routed.channelId, routed.replyToMessageId),
      platformIntegrationId: integration.id,
      externalMessageId: event.externalMessageId,
      messageSource: integration.platform,
    };
  }

  /** WhatsApp and Instagram keep one reaction per person and message: the new one replaces the old. */
  async reaction(routed: RoutedReaction): Promise<void> {
    const target = await this.messageService.byId(routed.integration.organizationId, routed.targetMessageId);
    if (!target || !acceptsResponses(target)) return;
    await this.reactions.replaceFromPlatform(target, routed.clientUserId, routed.event.emoji);
  }

  async status(routed: RoutedStatus): Promise<void> {
    const target = await this.messageService.byId(routed.integration.organizationId, routed.messageId);
    if (!target) return;
    await this.readState.applyPlatformStatus({
      organizationId: routed.integration.organizationId,
      channelId: target.channelId,
      messageId: target.id,
      userId: routed.clientUserId,
      status: routed.event.status,
      at: routed.event.timestamp,
      errorCode: routed.event.error?.code ?? null,
      errorTitle: routed.event.error?.title ?? null,
    });
  }

  /** Meta's word on a template: sendable or not from now on. */
  async templateStatus(routed: RoutedTemplateStatus): Promise<void> {
    const { event, integration } = routed;
    await this.templates.applyStatusUpdate(integration, {
      templateId: event.templateId,
      name: event.name,
      language: event.language,
      status: event.status,
      reason: event.reason,
    });
  }

  /**
   * An edit applies to the customer's own message. When the original has not arrived (yet: Meta may deliver
   * the two at once, in either order), the edit stores it as it reads now under the original's id; the
   * original, arriving later, is then the same message and changes nothing.
   */
  async edit(routed: RoutedEdit): Promise<void> {
    const { event, integration } = routed;
    const organizationId = integration.organizationId;
    const { message } = await this.messageService.ingest(organizationId, {
      channelId: routed.channelId,
      userId: routed.clientUserId,
      content: event.content,
      messageType: event.messageType,
      metadata: event.metadata,
      threadId: null,
      platformIntegrationId: integration.id,
      externalMessageId: event.targetExternalId,
      messageSource: integration.platform,
    });
    if (message.userId !== routed.clientUserId) return;
    await this.messageService.editFromPlatform(organizationId, message.id, routed.clientUserId, {
      content: event.content,
      metadata: event.metadata,
      editedAt: event.timestamp,
    });
  }

  async numberChange(routed: RoutedNumberChange): Promise<void> {
    await this.links.followNumberChange(routed.linkId, routed.event.newPlatformUserId);
  }

  /** A customer unsends only what they wrote. */
  async deletion(routed: RoutedDeletion): Promise<void> {
    const target = await this.messageService.byId(routed.integration.organizationId, routed.targetMessageId);
    if (!target || target.userId !== routed.clientUserId) return;
    await this.messageService.deleteFromPlatform(routed.integration.organizationId, target.id);
  }

  /** The customer saw our message: READ for them, forward only. */
  async seen(routed: RoutedSeen): Promise<void> {
    const target = await this.messageService.byId(routed.integration.organizationId, routed.targetMessageId);
    if (!target || target.userId === routed.clientUserId) return;
    await this.readState.applyPlatformStatus({
      organizationId: routed.integration.organizationId,
      channelId: target.channelId,
      messageId: target.id,
      userId: routed.clientUserId,
      status: 'READ',
      at: routed.event.timestamp,
    });
  }

  /**
   * A message the business sent to the customer from outside this server (the Instagram app, say): staff
   * see it in the channel, attributed to whoever set the integration up and marked as sent elsewhere.
   */
  async echo(routed: RoutedEcho): Promise<void> {
    const { event, integration } = routed;
    const owner = await this.deps.db.prisma.platformIntegration.findUniqueOrThrow({
      where: { id: integration.id },
      select: { createdBy: true },
    });
    await this.messageService.ingest(integration.organizationId, {
      channelId: routed.channelId,
      userId: owner.createdBy,
      content: event.content,
      messageType: event.messageType,
      metadata: { ...event.metadata, sentOutsideServer: true, sentAt: event.timestamp.toISOString() },
      threadId: null,
      platformIntegrationId: integration.id,
      externalMessageId: event.externalMessageId,
      messageSource: integration.platform,
    });
  }

  /**
   * A reply joins the thread of the message it answers when the app would let it (same channel, not deleted);
   * otherwise the customer's message is kept as a message of the channel.
   */
  private async threadFor(
    organizationId: string,
    channelId: string,
    replyToMessageId: string | null,
  ): Promise<string | null> {
    if (!replyToMessageId) return null;
    const thread = await this.messageService.threadOf(organizationId, channelId, replyToMessageId);
    return 'threadId' in thread ? thread.threadId : null;
  }
}
