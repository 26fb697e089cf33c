import type { ServiceDeps } from '../../services.js';
import type { MessageService } from '../messages/messages.service.js';
import type { OutboxService } from './outbox.service.js';
import { templateOf } from './send-body.js';

/**
 * A WhatsApp template send (metadata.template = { name, language, components? }) may open a closed window;
 * the same test as the sender's, so that nothing passes here as a template that then goes out free-form.
 */
const isTemplate = (metadata: unknown) => templateOf(metadata) !== null;

/**
 * What staff write in a client's channel goes out to the client's platform: the outbox rows are written in
 * the same transaction as the messages (so a message is never stored without its delivery, nor the reverse)
 * and this instance's sender is woken once they are committed. Before a free-form message is written at all,
 * the platform's customer-service window must be open.
 */
export function connectMessagingToPlatforms(deps: ServiceDeps, messages: MessageService, outbox: OutboxService): void {
  deps.writer.onInsert(async (client, inserted) => {
    const internal = inserted.filter((message) => message.messageSource === 'INTERNAL');
    if (internal.length === 0) return;
    const enqueued = await outbox.enqueueInTransaction(
      client,
      internal.map((message) => ({
        id: message.id,
        organization_id: message.organizationId,
        channel_id: message.channelId,
        user_id: message.userId,
        message_source: message.messageSource,
      })),
    );
    if (enqueued.length > 0) return () => outbox.wake();
  });
  messages.addSendPolicy(async (viewer, draft, channel) => {
    if (!channel.hasClients || viewer.role === 'CLIENT' || isTemplate(draft.metadata)) return;
    await outbox.assertFreeFormAllowed(viewer.organizationId, draft.channelId);
  });
}
