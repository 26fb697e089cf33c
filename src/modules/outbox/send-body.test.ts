import { describe, expect, it } from '@jest/globals';
import { fixtureJson } from '../../../tests/support/fixtures.js';
import { parseSendResponse } from './graph-api.js';
import { buildSendBody, type OutboundContent } from './send-body.js';

const fixtureBody = (name: string) => fixtureJson<{ body: Record<string, unknown> }>(name).body;
const text = (content: string, extra: Partial<OutboundContent> = {}): OutboundContent => ({
  messageType: 'TEXT',
  content,
  metadata: null,
  replyToExternalId: null,
  ...extra,
});
const phone = { platformUserId: '972987654321', scopedUserId: null };
const igUser = { platformUserId: '<INSTAGRAM_SCOPED_ID>', scopedUserId: null };

describe('WhatsApp send bodies', () => {
  it('text with a reply context, as the fixture', () => {
    expect(
      buildSendBody('WHATSAPP', phone, text('Hello from the agent', { replyToExternalId: 'wamid.xyzxyz' })),
    ).toEqual({
      ok: true,
      body: fixtureBody('wa_send_text_request.json'),
    });
  });

  it('media by link with caption; documents with their file name; audio without caption; media by id', () => {
    const image = buildSendBody('WHATSAPP', phone, {
      messageType: 'IMAGE',
      content: 'optional caption (not allowed for audio/sticker)',
      metadata: { url: 'https://example.com/files/photo.jpg' },
      replyToExternalId: null,
    });
    const { recipient_type: _recipientType, ...expected } = fixtureBody('wa_send_image_request.json');
    expect(image).toEqual({ ok: true, body: { ...expected, recipient_type: 'individual' } });
    expect(
      buildSendBody('WHATSAPP', phone, {
        messageType: 'FILE',
        content: 'the invoice',
        metadata: { url: 'https://x/y.pdf', filename: 'y.pdf' },
        replyToExternalId: null,
      }),
    ).toMatchObject({
      ok: true,
      body: { type: 'document', document: { link: 'https://x/y.pdf', caption: 'the invoice', filename: 'y.pdf' } },
    });
    expect(
      buildSendBody('WHATSAPP', phone, {
        messageType: 'AUDIO',
        content: 'ignored',
        metadata: { mediaId: 'm-1' },
        replyToExternalId: null,
      }),
    ).toEqual({ ok: true, body: expect.objectContaining({ type: 'audio', audio: { id: 'm-1' } }) });
  });

  it('templates, as the fixture', () => {
    const { body } = fixtureJson<{
      body: { template: { name: string; language: { code: string }; components: unknown[] } };
    }>('wa_send_template_request.json');
    const template = {
      name: body.template.name,
      language: body.template.language.code,
      components: body.template.components,
    };
    expect(buildSendBody('WHATSAPP', phone, text('', { metadata: { template } }))).toEqual({ ok: true, body });
  });

  it('a user known only by business-scoped id is addressed by recipient', () => {
    expect(buildSendBody('WHATSAPP', { platformUserId: null, scopedUserId: 'US.1' }, text('hi'))).toMatchObject({
      ok: true,
      body: { recipient: 'US.1', type: 'text' },
    });
  });

  it('says why a message cannot be sent', () => {
    expect(buildSendBody('WHATSAPP', { platformUserId: null, scopedUserId: null }, text('hi'))).toMatchObject({
      ok: false,
    });
    expect(buildSendBody('WHATSAPP', phone, text(''))).toEqual({
      ok: false,
      reason: 'The message has no text to send',
    });
    expect(buildSendBody('WHATSAPP', phone, { ...text('x'), messageType: 'IMAGE' })).toEqual({
      ok: false,
      reason: 'The message has no media url or media id to send',
    });
  });
});

describe('Instagram send bodies', () => {
  it('text, with the HUMAN_AGENT tag after 24 hours, and attachments by link, as the fixtures', () => {
    expect(buildSendBody('INSTAGRAM', igUser, text('Hello from the agent'))).toEqual({
      ok: true,
      body: fixtureBody('ig_send_text_request.json'),
    });
    expect(
      buildSendBody('INSTAGRAM', igUser, text("Reply sent 2-7 days after the user's last message"), {
        humanAgentTag: true,
      }),
    ).toEqual({ ok: true, body: fixtureBody('ig_send_text_human_agent_tag_request.json') });
    expect(
      buildSendBody('INSTAGRAM', igUser, {
        messageType: 'IMAGE',
        content: null,
        metadata: { url: 'https://example.com/files/photo.jpg' },
        replyToExternalId: null,
      }),
    ).toEqual({ ok: true, body: fixtureBody('ig_send_attachment_request.json') });
  });

  it('refuses templates and media without a link', () => {
    expect(
      buildSendBody('INSTAGRAM', igUser, text('x', { metadata: { template: { name: 'a', language: 'en' } } })),
    ).toMatchObject({ ok: false });
    expect(
      buildSendBody('INSTAGRAM', igUser, { ...text('x'), messageType: 'FILE', metadata: { mediaId: '1' } }),
    ).toMatchObject({ ok: false });
  });
});

describe('Send API responses', () => {
  it("reads the new message's id", () => {
    expect(parseSendResponse('WHATSAPP', 200, fixtureJson('wa_send_response.json'))).toEqual({
      ok: true,
      externalMessageId: 'wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA',
    });
    expect(parseSendResponse('WHATSAPP', 200, fixtureJson('wa_send_template_response.json'))).toMatchObject({
      ok: true,
    });
    expect(parseSendResponse('INSTAGRAM', 200, fixtureJson('ig_send_response.json'))).toEqual({
      ok: true,
      externalMessageId: '<MESSAGE_ID>',
    });
  });

  it("keeps Meta's error code and title, and tells transient from permanent", () => {
    expect(parseSendResponse('INSTAGRAM', 400, fixtureJson('ig_send_error_response.json'))).toEqual({
      ok: false,
      error: { httpStatus: 400, code: '400', title: 'The Instagram account is restricted.', transient: false },
    });
    const reengagement = {
      error: { message: '(#131047) Re-engagement message', code: 131047, error_user_title: 'Re-engagement message' },
    };
    expect(parseSendResponse('WHATSAPP', 400, reengagement)).toMatchObject({
      ok: false,
      error: { code: '131047', title: 'Re-engagement message', transient: false },
    });
    expect(parseSendResponse('WHATSAPP', 400, { error: { message: 'throughput', code: 130429 } })).toMatchObject({
      error: { transient: true },
    });
    expect(parseSendResponse('WHATSAPP', 503, undefined)).toMatchObject({
      error: { code: 'http-503', title: 'HTTP 503', transient: true },
    });
    expect(
      parseSendResponse('WHATSAPP', 400, { error: { message: 'x', code: 100, is_transient: true } }),
    ).toMatchObject({ error: { transient: true } });
    expect(parseSendResponse('WHATSAPP', 200, {})).toMatchObject({ ok: false, error: { transient: false } });
  });
});

describe('media rules', () => {
  const media = (messageType: 'IMAGE' | 'AUDIO' | 'FILE', metadata: unknown, mediaUrl?: string): OutboundContent => ({
    messageType,
    content: null,
    metadata,
    replyToExternalId: null,
    mediaUrl,
  });

  it("refuses what Meta refuses, per platform: a type or a size it does not take, with Meta's rule as the reason", () => {
    const gif = media('IMAGE', { url: 'https://cdn.example.com/a.gif', mimeType: 'image/gif', size: 10 });
    expect(buildSendBody('WHATSAPP', phone, gif)).toEqual({
      ok: false,
      reason: 'WhatsApp takes an image only as JPEG or PNG, not image/gif',
    });
    expect(buildSendBody('INSTAGRAM', igUser, gif)).toMatchObject({ ok: true });
    const longAudio = media('AUDIO', { url: 'https://cdn.example.com/a.mp3', mimeType: 'audio/mpeg', size: 17 << 20 });
    expect(buildSendBody('WHATSAPP', phone, longAudio)).toEqual({
      ok: false,
      reason: 'WhatsApp takes audio of at most 16 MB; this one is 17.0 MB',
    });
  });

  it("sends a stored attachment by the server's own link, with its file name", () => {
    const stored = media(
      'FILE',
      { uploadId: 'u1', mimeType: 'application/pdf', size: 10, fileName: 'invoice.pdf' },
      'https://chat.example.com/media/u1?expires=1&signature=s',
    );
    expect(buildSendBody('WHATSAPP', phone, stored)).toMatchObject({
      ok: true,
      body: {
        type: 'document',
        document: { link: 'https://chat.example.com/media/u1?expires=1&signature=s', filename: 'invoice.pdf' },
      },
    });
  });
});
