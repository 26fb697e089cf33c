import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { checkMessageShape, emoji, messageContent, type SendMessageFields } from './message-input.js';

const issues = (input: SendMessageFields) => {
  const result = z.any().superRefine(checkMessageShape).safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

describe('message shape', () => {
  it('needs text for a text message, and a JSON object at most for its metadata', () => {
    expect(issues({ content: 'hi' })).toEqual([]);
    expect(issues({ content: '  ' })).toEqual(['content']);
    expect(issues({ content: 'hi', metadata: [1, 2] })).toEqual(['metadata']);
    expect(issues({ content: 'hi', metadata: { preview: 'x'.repeat(17_000) } })).toEqual(['metadata']);
  });

  it('needs an attachment description of the right kind for images, audio and files', () => {
    const image = { url: 'https://cdn.example.test/a.png', mimeType: 'image/png', size: 10 };
    expect(issues({ messageType: 'IMAGE', metadata: image })).toEqual([]);
    expect(issues({ messageType: 'IMAGE', metadata: { ...image, mimeType: 'audio/ogg' } })).toEqual([
      'metadata.mimeType',
    ]);
    expect(issues({ messageType: 'AUDIO', metadata: null })).toEqual(['metadata']);
    expect(issues({ messageType: 'FILE', metadata: { ...image, mimeType: 'application/pdf' } })).toEqual([
      'metadata.fileName',
    ]);
    expect(
      issues({ messageType: 'FILE', metadata: { ...image, mimeType: 'application/pdf', fileName: 'a.pdf' } }),
    ).toEqual([]);
    expect(issues({ messageType: 'IMAGE', metadata: { ...image, url: 'ftp://x/a.png' } })).toEqual(['metadata.url']);
    expect(issues({ messageType: 'IMAGE', metadata: { ...image, size: 200 * 1024 * 1024 } })).toEqual([
      'metadata.size',
    ]);
    expect(issues({ messageType: 'IMAGE', metadata: { ...image, unexpected: true } })).toEqual(['metadata']);
  });

  it('counts content length in characters, as people do', () => {
    expect(messageContent.safeParse('é'.repeat(4096)).success).toBe(true);
    expect(messageContent.safeParse('😀'.repeat(4096)).success).toBe(true);
    expect(messageContent.safeParse('a'.repeat(4097)).success).toBe(false);
  });

  it('accepts one emoji of any kind, or one :shortcode:', () => {
    const accepted = [
      '👍',
      '😮', // WhatsApp's reaction fixture
      '❤️', // Instagram's
      '❤',
      '☺️',
      '👍🏽',
      '👨‍👩‍👧',
      '👩🏽‍💻',
      '🧑🏻‍🤝‍🧑🏿',
      '🏳️‍🌈',
      '🏳️‍⚧️',
      '❤️‍🔥',
      '👁️‍🗨️',
      '🇫🇷',
      '🇺🇳',
      '\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}', // the flag of Scotland
      '#️⃣',
      '1️⃣',
      '*⃣',
      '🔟',
      '\u{1FAE8}', // shaking face (Unicode 15)
      '\u{1FAFA}', // a code point set aside for a future emoji
      ':party_parrot:',
      ':+1:',
      ':man-woman-boy:',
    ];
    expect(accepted.filter((value) => !emoji.safeParse(value).success)).toEqual([]);
  });

  it('refuses words, several emoji, and anything else', () => {
    const refused = [
      '',
      ' ',
      'hello',
      'a',
      '1',
      '#',
      '+1',
      'two words',
      '👍👍',
      '👍 ',
      ' 👍',
      '👍\u200D',
      '\u200D👍',
      '🇫🇷🇩',
      '👍\u0000',
      ':',
      '::',
      ':a b:',
      ':party_parrot',
      ':x::y:',
      `:${'x'.repeat(63)}:`,
    ];
    expect(refused.filter((value) => emoji.safeParse(value).success)).toEqual([]);
  });
});
