import type { MessageType, Platform } from '../../generated/prisma/enums.js';
import { SecretError } from '../../lib/secrets.js';
import type { IntegrationService } from '../integrations/integrations.service.js';
import { INSTAGRAM_STANDARD_WINDOW_MS } from './customer-window.js';
import type { GraphApiClient, SendError } from './graph-api.js';
import type { ClaimedSend } from './outbox-claims.js';
import { meansPairLimited, meansTokenInvalid } from './integration-health.js';
import { buildSendBody } from './send-body.js';
import type { SendPacing } from './send-pacing.js';

/**
 * After Meta's pair rate limit (131056), the next try at the same customer: WhatsApp allows about one message
 * every six seconds to one customer.
 */
export const PAIR_RETRY_DELAY_MS = 6_000;

/**
 * What became of one attempt: sent (Meta's id); to be retried; `paced`, Meta's per-recipient limit or the phone
 * number's throughput (tried again after `retryInMs`, not counted as an attempt); `paused`, the integration's
 * token is invalid (the row waits, not counted, until a new token); or failed for good (with the reason, and
 * Meta's answer when it came from Meta).
 */
export type SendOutcome =
  | { sent: string }
  | { retry: SendError }
  | { paced: { code: string; title: string }; retryInMs: number }
  | { paused: SendError }
  | { failed: { code: string; title: string }; meta?: SendError };

export interface SendAttemptDeps {
  graph: GraphApiClient;
  integrations: Pick<IntegrationService, 'accessTokenOf'>;
  maxAttempts: number;
  /** Meta's throughputs per WhatsApp phone number and per Instagram account. */
  pacing: Pick<SendPacing, 'turnOf'>;
  /** A signed link to an attachment the server stores, which Meta fetches when it takes the message. */
  mediaLinkOf: (uploadId: string) => string;
}

/** Sends one claimed row through the Graph API, or says why it cannot go (any more). */
export async function attemptSend(row: ClaimedSend, deps: SendAttemptDeps): Promise<SendOutcome> {
  // Claims whose outcome was never recorded (a crash, an unexpected error) count too: no endless loop.
  if (row.attempts > deps.maxAttempts)
    return { failed: { code: 'attempts-exhausted', title: `Gave up after ${deps.maxAttempts} attempts` } };
  if (row.deleted_at) return { failed: { code: 'deleted', title: 'The message was deleted before it was delivered' } };
  if (!row.is_active) return { failed: { code: 'integration-inactive', title: 'The integration is deactivated' } };
  if (row.verification_status !== 'verified')
    return { failed: { code: 'link-unverified', title: "The client's platform link is not verified" } };
  const platform = row.platform.toUpperCase() as Platform;
  const messageType = row.message_type.toUpperCase() as MessageType;
  const sinceCustomerWrote = row.last_inbound_at ? Date.now() - row.last_inbound_at.getTime() : Infinity;
  const body = buildSendBody(
    platform,
    { platformUserId: row.platform_user_id, scopedUserId: row.platform_scoped_user_id },
    {
      messageType,
      content: row.content,
      metadata: row.metadata,
      replyToExternalId: row.reply_to_external_id,
      mediaUrl: uploadIdOf(row.metadata) ? deps.mediaLinkOf(uploadIdOf(row.metadata)!) : null,
    },
    { humanAgentTag: platform === 'INSTAGRAM' && sinceCustomerWrote > INSTAGRAM_STANDARD_WINDOW_MS },
  );
  if (!body.ok) return { failed: { code: 'unsendable', title: body.reason } };
  let accessToken: string;
  try {
    accessToken = deps.integrations.accessTokenOf({ accessToken: row.access_token });
  } catch (error) {
    if (!(error instanceof SecretError)) throw error;
    return {
      failed: { code: 'credentials', title: `The integration's access token cannot be opened: ${error.message}` },
    };
  }
  // Last, so that only a send that really goes takes a turn of its account's throughput. An Instagram integration
  // without the account's id sends as `me`: it is one account, paced by the integration.
  const turn = await deps.pacing.turnOf({
    platform,
    accountId: row.platform_account_id ?? row.platform_integration_id,
    messageType,
  });
  if (!turn.go)
    return {
      paced: { code: 'paced', title: `Meta's sends per second for the account (${turn.setting}) are spent` },
      retryInMs: turn.retryInMs,
    };
  if (turn.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(turn.waitMs)));
  const result = await deps.graph.send({ platform, accountId: row.platform_account_id, accessToken, body: body.body });
  if (result.ok) return { sent: result.externalMessageId };
  const { error } = result;
  if (meansTokenInvalid(error)) return { paused: error };
  if (meansPairLimited(error)) return { paced: error, retryInMs: PAIR_RETRY_DELAY_MS };
  if (error.transient && row.attempts < deps.maxAttempts) return { retry: error };
  return { failed: { code: error.code, title: error.title }, meta: error };
}

const uploadIdOf = (metadata: unknown): string | undefined => {
  const uploadId = (metadata as { uploadId?: unknown } | null)?.uploadId;
  return typeof uploadId === 'string' ? uploadId : undefined;
};
