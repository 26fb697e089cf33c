/** Where a customer's media is, as the webhook left it in the message's metadata (see webhooks/parsing). */
export type PlatformMediaSource = { mediaId: string; url?: undefined } | { url: string; mediaId?: undefined };

/**
 * The media a platform message carries: a WhatsApp media id (image, audio, voice, video, document, sticker),
 * which the Graph API turns into bytes, or an Instagram attachment's CDN URL. Undefined for anything else.
 */
export function platformMediaOf(message: {
  messageSource: string;
  messageType: string;
  metadata: unknown;
  platformIntegrationId: string | null;
}): PlatformMediaSource | undefined {
  if (message.messageType === 'TEXT' || !message.platformIntegrationId) return undefined;
  const metadata = (message.metadata ?? {}) as Record<string, unknown>;
  if (message.messageSource === 'WHATSAPP' && typeof metadata.mediaId === 'string' && metadata.mediaId !== '')
    return { mediaId: metadata.mediaId };
  if (message.messageSource === 'INSTAGRAM' && typeof metadata.url === 'string' && metadata.url !== '')
    return { url: metadata.url };
  return undefined;
}

/** Whether a URL's host is one of the allowed (`*.domain` allows every subdomain of domain, not domain itself). */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return allowed.some((pattern) =>
    pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern,
  );
}
