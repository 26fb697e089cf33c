import type { Platform } from '../../generated/prisma/enums.js';

// Meta's Send APIs. WhatsApp: POST {graph}/{phone_number_id}/messages. Instagram: POST
// {instagram}/{account id, or "me"}/messages. Both take the access token as a bearer token and answer with the
// new message's id (`messages[0].id` / `message_id`) or a Graph error body.

export interface GraphApiSettings {
  graphApiUrl: string;
  instagramApiUrl: string;
  timeoutMs: number;
}

export interface SendRequest {
  platform: Platform;
  /** WhatsApp's phone_number_id (required), the Instagram account id (null: "me"). */
  accountId: string | null;
  accessToken: string;
  body: object;
}

/** Meta's reason for refusing a send, and whether trying again later may succeed. */
export interface SendError {
  httpStatus: number | null;
  code: string;
  title: string;
  transient: boolean;
}

export type SendResult = { ok: true; externalMessageId: string } | { ok: false; error: SendError };

/** One page of a WhatsApp Business account's templates, and the cursor of the next (null: the last page). */
export type TemplatePage = { ok: true; templates: unknown[]; after: string | null } | { ok: false; error: SendError };

/** The template fields syncMessageTemplates keeps. */
const TEMPLATE_FIELDS = 'id,name,language,category,status,components';
const TEMPLATE_PAGE_SIZE = 100;

// Graph error codes that mean "not now" rather than "never": throttling and Meta-side hiccups.
// 1/2 unknown/temporary, 4/17/32/613 API rate limits, 80007 Instagram rate limit, 130429 WhatsApp throughput,
// 131048 spam rate limit, 131056 too many messages to one user, 131000 "something went wrong".
const TRANSIENT_CODES = new Set(['1', '2', '4', '17', '32', '613', '80007', '130429', '131000', '131048', '131056']);

export class GraphApiClient {
  constructor(private readonly settings: GraphApiSettings) {}

  async send(request: SendRequest): Promise<SendResult> {
    if (request.platform === 'WHATSAPP' && !request.accountId) {
      return failure(
        null,
        'configuration',
        'The integration has no platformAccountId (its WhatsApp phone number id)',
        false,
      );
    }
    const base = request.platform === 'WHATSAPP' ? this.settings.graphApiUrl : this.settings.instagramApiUrl;
    const url = `${base}/${encodeURIComponent(request.accountId ?? 'me')}/messages`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${request.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable';
      return failure(null, 'network', `Graph API ${reason}`, true);
    }
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return parseSendResponse(request.platform, response.status, body);
  }

  /**
   * One page of GET {graph}/{business account id}/message_templates. The next page is asked for with the
   * `after` cursor on our own URL, never by following Meta's `paging.next` link (a URL from a response).
   */
  async templatePage(accessToken: string, businessAccountId: string, after: string | null): Promise<TemplatePage> {
    const query = new URLSearchParams({ fields: TEMPLATE_FIELDS, limit: String(TEMPLATE_PAGE_SIZE) });
    if (after) query.set('after', after);
    const url = `${this.settings.graphApiUrl}/${encodeURIComponent(businessAccountId)}/message_templates?${query}`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${accessToken}` },
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable';
      return failure(null, 'network', `Graph API ${reason}`, true);
    }
    const body = (await response.json().catch(() => undefined)) as
      { data?: unknown; paging?: { cursors?: { after?: unknown }; next?: unknown } } | undefined;
    if (!response.ok || !Array.isArray(body?.data)) {
      const refused = parseSendResponse('WHATSAPP', response.ok ? 502 : response.status, body);
      return refused.ok ? failure(response.status, 'unexpected-response', 'No template list', false) : refused;
    }
    const cursor = body.paging?.cursors?.after;
    return {
      ok: true,
      templates: body.data,
      after: typeof body.paging?.next === 'string' && typeof cursor === 'string' ? cursor : null,
    };
  }
}

/** A Send API answer as a result: the new message's id, or Meta's error and whether to retry. */
export function parseSendResponse(platform: Platform, status: number, body: unknown): SendResult {
  const value = (body ?? {}) as {
    messages?: { id?: unknown }[];
    message_id?: unknown;
    error?: {
      message?: unknown;
      code?: unknown;
      error_user_title?: unknown;
      is_transient?: unknown;
    };
  };
  if (status >= 200 && status < 300) {
    const id = platform === 'WHATSAPP' ? value.messages?.[0]?.id : value.message_id;
    if (typeof id === 'string' && id !== '') return { ok: true, externalMessageId: id };
    // Meta may have accepted it: sending again could deliver it twice, so this is not retried.
    return failure(status, 'unexpected-response', 'Meta accepted the request but returned no message id', false);
  }
  const error = value.error ?? {};
  const code = error.code !== undefined ? String(error.code) : `http-${status}`;
  const title =
    (typeof error.error_user_title === 'string' && error.error_user_title) ||
    (typeof error.message === 'string' && error.message) ||
    `HTTP ${status}`;
  const transient = error.is_transient === true || status >= 500 || status === 429 || TRANSIENT_CODES.has(code);
  return failure(status, code, title, transient);
}

const failure = (
  httpStatus: number | null,
  code: string,
  title: string,
  transient: boolean,
): { ok: false; error: SendError } => ({
  ok: false,
  error: { httpStatus, code, title, transient },
});
