import { describe, expect, it } from '@jest/globals';
import { fixtureJson, fixtureText } from '../../../../tests/support/fixtures.js';
import { parseDelivery } from './parse-delivery.js';
import { parseWhatsAppDelivery } from './whatsapp.js';

const parse = (fixture: string) => parseWhatsAppDelivery(fixtureJson(fixture));
const only = (fixture: string) => {
  const { events, problems } = parse(fixture);
  expect(problems).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0]!;
};

const CUSTOMER = {
  platformUserId: '972987654321',
  scopedUserId: 'US.13491208655302741918',
  name: 'Test Name',
  username: null,
};
const PATH = 'entry[0].changes[0].value.messages[0]';

describe('WhatsApp messages', () => {
  it('text: the body, the sender by wa_id and business-scoped id, the phone number id, Unix seconds', () => {
    expect(only('wa_inbound_text.json')).toEqual({
      kind: 'message',
      path: PATH,
      businessAccountId: '1122334455667',
      timestamp: new Date(1697043223 * 1000),
      customer: CUSTOMER,
      externalMessageId: 'wamid.xyzxyz',
      messageType: 'TEXT',
      content: 'Body Text',
      metadata: { platformType: 'text' },
      replyToExternalId: null,
    });
  });

  it('image: media id, mime type and sha256 in metadata; the url when Meta includes one', () => {
    expect(only('wa_inbound_image.json')).toMatchObject({
      messageType: 'IMAGE',
      content: null,
      metadata: { platformType: 'image', mediaId: '65463453', mimeType: 'image/jpeg', sha256: '4654+8g=' },
    });
    expect(only('wa_inbound_image_with_url.json')).toMatchObject({
      messageType: 'IMAGE',
      metadata: {
        mediaId: '65463453',
        url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw',
      },
    });
  });

  it('audio: voice notes and forwarded audio files are both AUDIO', () => {
    expect(only('wa_inbound_audio_voice.json')).toMatchObject({
      messageType: 'AUDIO',
      metadata: {
        platformType: 'audio',
        voice: true,
        mimeType: 'audio/ogg; codecs=opus',
        mediaId: '1234567890987654321',
      },
    });
    const file = only('wa_inbound_audio_file.json');
    expect(file).toMatchObject({
      messageType: 'AUDIO',
      metadata: { voice: false, forwarded: true },
      replyToExternalId: null,
    });
  });

  it('document: FILE with file name and caption', () => {
    expect(only('wa_inbound_document.json')).toMatchObject({
      messageType: 'FILE',
      content: 'caption',
      metadata: {
        platformType: 'document',
        filename: 'filename.pdf',
        caption: 'caption',
        mimeType: 'application/pdf',
        mediaId: '1234567890987654321',
        forwarded: true,
      },
    });
  });

  it('reply: context.id is the message replied to', () => {
    expect(only('wa_inbound_reply_with_context.json')).toMatchObject({
      kind: 'message',
      content: 'replied text',
      replyToExternalId: 'wamid.xyzxyz==',
    });
  });

  it('interactive button and list replies, and template quick replies, are TEXT with the chosen title', () => {
    expect(only('wa_inbound_interactive_button_reply.json')).toMatchObject({
      messageType: 'TEXT',
      content: 'title',
      replyToExternalId: 'wamid.xyzxyz',
      metadata: {
        platformType: 'interactive',
        interactive: { type: 'button_reply', id: 'callback_data', title: 'title' },
      },
    });
    expect(only('wa_inbound_interactive_list_reply.json')).toMatchObject({
      externalMessageId: 'wamid.zyzxyz',
      content: 'title',
      metadata: {
        interactive: { type: 'list_reply', id: 'callback_data', title: 'title', description: 'description' },
      },
    });
    expect(only('wa_inbound_template_quick_reply_button.json')).toMatchObject({
      externalMessageId: 'wamid.xsidjw',
      content: 'title',
      replyToExternalId: 'wamid.xyzxyz==',
      metadata: { platformType: 'button', button: { text: 'title', payload: 'callback_data' } },
    });
  });

  it("unsupported types are kept and flagged with Meta's error", () => {
    const { events, problems } = parse('wa_inbound_unsupported.json');
    expect(problems).toEqual([]);
    // Meta's errors about the message are also an event of their own, kept with the delivery for admins.
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ kind: 'platform-errors', errors: [{ code: '131051' }] });
    expect(events[0]).toMatchObject({
      kind: 'message',
      messageType: 'TEXT',
      content: null,
      metadata: {
        platformType: 'unsupported',
        unsupported: true,
        errors: [
          {
            code: '131051',
            title: 'Message type unknown',
            message: 'Message type unknown',
            details: 'Message type is currently not supported.',
          },
        ],
      },
    });
  });

  it('a sender known only by business-scoped id', () => {
    expect(only('wa_inbound_text_bsuid_only_constructed.json')).toMatchObject({
      kind: 'message',
      content: 'Body Text',
      customer: {
        platformUserId: null,
        scopedUserId: 'US.13491208655302741918',
        name: 'Test Name',
        username: '@testname',
      },
    });
  });

  it('types the fixtures do not show: location, sticker, video, contacts', () => {
    const envelope = (message: object) => ({
      object: 'whatsapp_business_account',
      entry: [{ changes: [{ field: 'messages', value: { metadata: { phone_number_id: '1' }, messages: [message] } }] }],
    });
    const base = { from: '15550001', id: 'wamid.x', timestamp: 1700000000 };
    const [location] = parseWhatsAppDelivery(
      envelope({ ...base, type: 'location', location: { latitude: 1.5, longitude: 2.5, name: 'Office' } }),
    ).events;
    expect(location).toMatchObject({
      messageType: 'TEXT',
      content: 'Office',
      metadata: { location: { latitude: 1.5, longitude: 2.5 } },
    });
    const [sticker] = parseWhatsAppDelivery(
      envelope({ ...base, type: 'sticker', sticker: { id: 's1', animated: true } }),
    ).events;
    expect(sticker).toMatchObject({ messageType: 'IMAGE', metadata: { mediaId: 's1', animated: true } });
    const [video] = parseWhatsAppDelivery(
      envelope({ ...base, type: 'video', video: { id: 'v1', caption: 'look' } }),
    ).events;
    expect(video).toMatchObject({
      messageType: 'FILE',
      content: 'look',
      metadata: { platformType: 'video', mediaId: 'v1' },
    });
    const [contacts] = parseWhatsAppDelivery(
      envelope({ ...base, type: 'contacts', contacts: [{ name: { formatted_name: 'A' } }] }),
    ).events;
    expect(contacts).toMatchObject({ metadata: { contacts: [{ name: { formatted_name: 'A' } }] } });
    expect(location!.timestamp).toEqual(new Date(1700000000 * 1000));
  });
});

describe('WhatsApp reactions', () => {
  it('a reaction names the message it reacts to', () => {
    expect(only('wa_inbound_reaction.json')).toEqual({
      kind: 'reaction',
      path: PATH,
      businessAccountId: '1122334455667',
      timestamp: new Date(1697044456 * 1000),
      customer: CUSTOMER,
      externalMessageId: 'wamid.xyzxyz',
      targetExternalId: 'wamid.yzxyzx=',
      emoji: '\u{1F62E}',
    });
  });

  it('an empty or missing emoji removes the reaction', () => {
    expect(only('wa_inbound_reaction_removed.json')).toMatchObject({ kind: 'reaction', emoji: null });
    const body = fixtureJson<{ entry: { changes: { value: { messages: { reaction: { emoji?: string } }[] } }[] }[] }>(
      'wa_inbound_reaction_removed.json',
    );
    delete body.entry[0]!.changes[0]!.value.messages[0]!.reaction.emoji;
    expect(parseWhatsAppDelivery(body).events[0]).toMatchObject({ kind: 'reaction', emoji: null });
  });
});

describe('WhatsApp statuses', () => {
  const statusPath = 'entry[0].changes[0].value.statuses[0]';

  it.each([
    ['wa_status_sent.json', 'SENT', 'sent', 1698266945],
    ['wa_status_delivered.json', 'DELIVERED', 'delivered', 1698266945],
    ['wa_status_read.json', 'READ', 'read', 1689380458],
  ])('%s', (fixture, status, platformStatus, seconds) => {
    expect(only(fixture)).toEqual({
      kind: 'status',
      path: statusPath,
      businessAccountId: '1122334455667',
      timestamp: new Date(seconds * 1000),
      externalMessageId: 'wamid.xyzxyz',
      recipientId: '972987654321',
      status,
      platformStatus,
      error: null,
    });
  });

  it("failed keeps Meta's code and title", () => {
    expect(only('wa_status_failed.json')).toMatchObject({
      status: 'FAILED',
      error: {
        code: '130472',
        title: "User's number is part of an experiment",
        message: "User's number is part of an experiment",
        details: "Failed to send message because this user's phone number is part of an experiment",
      },
    });
  });

  it('played is READ; statuses of other kinds are skipped', () => {
    const body = fixtureJson<{ entry: { changes: { value: { statuses: { status: string }[] } }[] }[] }>(
      'wa_status_read.json',
    );
    const statuses = body.entry[0]!.changes[0]!.value.statuses;
    statuses[0]!.status = 'played';
    statuses.push({ ...statuses[0]!, status: 'deleted' });
    const { events, problems } = parseWhatsAppDelivery(body);
    expect(problems).toEqual([]);
    expect(events).toEqual([expect.objectContaining({ status: 'READ', platformStatus: 'played' })]);
  });
});

describe('WhatsApp batches and bad shapes', () => {
  it('processes every entry, change, message and status of a batch', () => {
    const { events, problems } = parse('wa_batched_constructed.json');
    expect(problems).toEqual([]);
    expect(events.map((event) => [event.kind, event.path])).toEqual([
      ['message', 'entry[0].changes[0].value.messages[0]'],
      ['message', 'entry[0].changes[0].value.messages[1]'],
      ['status', 'entry[1].changes[0].value.statuses[0]'],
      ['status', 'entry[1].changes[0].value.statuses[1]'],
    ]);
  });

  it('reports a malformed item with its path and keeps the rest', () => {
    const body = fixtureJson<{ entry: { changes: { value: { messages: object[] } }[] }[] }>('wa_inbound_text.json');
    body.entry[0]!.changes[0]!.value.messages.unshift({ type: 'text', timestamp: 'yesterday', from: '1' });
    const { events, problems } = parseWhatsAppDelivery(body);
    expect(events).toHaveLength(1);
    expect(problems).toEqual([
      {
        path: 'entry[0].changes[0].value.messages[0]',
        reason: expect.stringMatching(/id: .*timestamp: must be Unix seconds/s),
      },
    ]);
  });

  it('reports an envelope of the wrong shape, and skips changes that are not messages', () => {
    expect(parseWhatsAppDelivery([1, 2]).problems).toEqual([{ path: '(delivery)', reason: expect.any(String) }]);
    expect(parseWhatsAppDelivery({ object: 'instagram', entry: [] }).problems[0]!.reason).toMatch(
      /whatsapp_business_account/,
    );
    expect(parseWhatsAppDelivery({ object: 'whatsapp_business_account' }).problems[0]!.reason).toMatch(/^entry: /);
    const other = {
      object: 'whatsapp_business_account',
      entry: [{ changes: [{ field: 'account_update', value: {} }] }],
    };
    expect(parseWhatsAppDelivery(other)).toEqual({ events: [], problems: [] });
  });

  it('parses the escaped-unicode signature vector to the same text', () => {
    const vectors = fixtureJson<{ vector_2_escaped_unicode: { raw_body_utf8: string } }>(
      'meta_signature_test_vectors.json',
    );
    const raw = vectors.vector_2_escaped_unicode.raw_body_utf8;
    expect(raw).toContain('\\u00e4');
    // The vector's message is a fragment (no id): reported, and its text survives JSON decoding intact.
    expect(JSON.parse(raw).entry[0].changes[0].value.messages[0].text.body).toBe('äöå 😮');
    expect(parseDelivery('WHATSAPP', raw).problems).not.toEqual([]);
    expect(parseDelivery('WHATSAPP', 'not json')).toEqual({
      events: [],
      problems: [{ path: '(delivery)', reason: 'body is not JSON' }],
    });
    expect(parseDelivery('WHATSAPP', fixtureText('wa_inbound_text.json')).events).toHaveLength(1);
  });
});
