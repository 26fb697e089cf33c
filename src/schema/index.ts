import { builder } from './builder.js';
import '../modules/organizations/organizations.schema.js';
import '../modules/users/users.schema.js';
import '../modules/channels/channels.schema.js';
import '../modules/messages/messages.schema.js';
import '../modules/reactions/reactions.schema.js';
import '../modules/read-state/read-state.schema.js';
import '../modules/events/events.schema.js';
import '../modules/typing/typing.schema.js';
import '../modules/presence/presence.schema.js';
import '../modules/integrations/integrations.schema.js';
import '../modules/client-links/client-links.schema.js';
import '../modules/webhooks/webhooks.schema.js';
import '../modules/media/media.schema.js';

export const schema = builder.toSchema();
