import { describe, expect, it } from '@jest/globals';
import { fixtureJson } from '../../../../tests/support/fixtures.js';
import { parseInstagramDelivery } from './instagram.js';

const only = (fixture: string) => {
  const { events, problems } = parseInstagramDelivery(fixtureJson(fixture));
  expect(problems).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0]!;
};

const CUSTOMER = { platformUserId: '<INSTAGRAM_SCOPED_ID>', scopedUserId: null, name: null, username: null };

describe('Instagram messages', () => {
  it('text: the sender, the account, integer milliseconds', () => {
    expect(only('ig_inbound_text.json')).toEqual({
      kind: 'message',
      path: 'entry[0].messaging[0]',
      businessAccountId: '<YOUR_APP_USERS_INSTAGRAM_USER_ID>',
      timestamp: new Date(1569262485349),
      customer: CUSTOMER,
      externalMessageId: '<MESSAGE_ID>',
      messageType: 'TEXT',
      content: '<MESSAGE_TEXT>',
      metadata: { platformType: 'text' },
      replyToExternalId: null,
    });
  });

  it('an image attachment is IMAGE with its url', () => {
    expect(only('ig_inbound_image_attachment.json')).toMatchObject({
      messageType: 'IMAGE',
      content: null,
      metadata: {
        platformType: 'image',
        url: '<URL_FOR_THE_MEDIA>',
        attachments: [{ type: 'image', url: '<URL_FOR_THE_MEDIA>' }],
      },
    });
  });

  it('a story mention and a post share are text with their link, keeping every attachment field', () => {
    expect(only('ig_story_mention_fixture.json')).toMatchObject({
      messageType: 'TEXT',
      content: expect.stringMatching(/^https:\/\/i5\.walmartimages\.com\//),
      customer: { platformUserId: 'balconycarspotting' },
      metadata: { platformType: 'story_mention' },
    });
    expect(only('ig_post_share_attachment.json')).toMatchObject({
      messageType: 'TEXT',
      content: expect.stringMatching(/^Build a workspace/),
      timestamp: new Date(1761287294014),
      metadata: {
        platformType: 'share',
        attachments: [
          { type: 'share', ig_post_media_id: '18139494541428835', title: expect.any(String), url: expect.any(String) },
        ],
      },
    });
  });

  it('audio, video and file attachments; replies; unsupported messages', () => {
    const item = (message: object) => ({
      object: 'instagram',
      entry: [
        {
          id: 'biz',
          messaging: [
            { sender: { id: 'cust' }, recipient: { id: 'biz' }, timestamp: 1, message: { mid: 'm1', ...message } },
          ],
        },
      ],
    });
    const [audio] = parseInstagramDelivery(item({ attachments: [{ type: 'audio', payload: { url: 'u' } }] })).events;
    expect(audio).toMatchObject({ messageType: 'AUDIO', metadata: { url: 'u' } });
    const [video] = parseInstagramDelivery(item({ attachments: [{ type: 'video', payload: { url: 'v' } }] })).events;
    expect(video).toMatchObject({ messageType: 'FILE', metadata: { platformType: 'video' } });
    const [file] = parseInstagramDelivery(item({ attachments: [{ type: 'file', payload: { url: 'f' } }] })).events;
    expect(file).toMatchObject({ messageType: 'FILE' });
    const [reply] = parseInstagramDelivery(item({ text: 'yes', reply_to: { mid: 'm0' } })).events;
    expect(reply).toMatchObject({ content: 'yes', replyToExternalId: 'm0' });
    const [unsupported] = parseInstagramDelivery(item({ is_unsupported: true })).events;
    expect(unsupported).toMatchObject({ content: null, metadata: { unsupported: true, platformType: 'unsupported' } });
  });
});

describe('Instagram reactions, read receipts, unsends and echoes', () => {
  it('react and unreact', () => {
    expect(only('ig_reaction_react.json')).toEqual({
      kind: 'reaction',
      path: 'entry[0].messaging[0]',
      businessAccountId: '<YOUR_APP_USERS_INSTAGRAM_USER_ID>',
      timestamp: new Date(1569262485349),
      customer: CUSTOMER,
      externalMessageId: null,
      targetExternalId: '<MESSAGE_ID>',
      emoji: '❤️',
    });
    expect(only('ig_reaction_unreact.json')).toMatchObject({
      kind: 'reaction',
      emoji: null,
      targetExternalId: '<MESSAGE_ID>',
    });
  });

  it('seen names the message read', () => {
    expect(only('ig_messaging_seen.json')).toMatchObject({
      kind: 'seen',
      customer: CUSTOMER,
      targetExternalId: '<MESSAGE_ID>',
    });
  });

  it('is_deleted is an unsend of the message', () => {
    expect(only('ig_message_deleted.json')).toMatchObject({
      kind: 'deletion',
      customer: CUSTOMER,
      targetExternalId: '<MESSAGE_ID>',
    });
  });

  it('is_echo is our own send coming back: the customer is the recipient', () => {
    expect(only('ig_echo_real_capture.json')).toEqual({
      kind: 'echo',
      path: 'entry[0].messaging[0]',
      businessAccountId: '17841470026191358',
      timestamp: new Date(1729604868365),
      customer: { platformUserId: '430915413000664', scopedUserId: null, name: null, username: null },
      externalMessageId: expect.stringMatching(/^aWdfZAG1faXRlbT/),
      messageType: 'TEXT',
      content: 'test',
      metadata: { platformType: 'text' },
    });
  });
});

describe('Instagram standby and bad shapes', () => {
  it('standby items are processed like messaging items', () => {
    const body = fixtureJson<{ entry: { messaging?: unknown[]; standby?: unknown[] }[] }>('ig_inbound_text.json');
    body.entry[0]!.standby = body.entry[0]!.messaging;
    delete body.entry[0]!.messaging;
    expect(parseInstagramDelivery(body).events).toEqual([
      expect.objectContaining({ kind: 'message', path: 'entry[0].standby[0]' }),
    ]);
  });

  it('reports malformed items and envelopes; ignores items of other kinds', () => {
    const body = fixtureJson<{ entry: { messaging: object[] }[] }>('ig_inbound_text.json');
    body.entry[0]!.messaging.push({ sender: { id: 'x' }, recipient: { id: 'y' }, timestamp: '1569262485349' });
    body.entry[0]!.messaging.push({
      sender: { id: 'x' },
      recipient: { id: 'y' },
      timestamp: 1,
      referral: { ref: 'ad' },
    });
    const { events, problems } = parseInstagramDelivery(body);
    expect(events).toHaveLength(1);
    expect(problems).toEqual([{ path: 'entry[0].messaging[1]', reason: expect.stringMatching(/^timestamp: /) }]);
    expect(parseInstagramDelivery({ object: 'page', entry: [] }).problems[0]!.reason).toMatch(/instagram/);
    expect(parseInstagramDelivery('text').problems).toHaveLength(1);
  });
});
