import { describe, expect, it } from '@jest/globals';
import { parseMentions } from './mentions.js';

const people = [
  { id: 'ada', email: 'ada@example.com', displayName: 'Ada' },
  { id: 'lovelace', email: 'lovelace@example.com', displayName: 'Ada Lovelace' },
  { id: 'anna', email: 'anna@example.com', displayName: 'Anna' },
  { id: 'zoe', email: 'zoe@example.com', displayName: 'Zoë Ñúñez' },
];

describe('parseMentions', () => {
  it.each([
    ['hi @Ada', ['ada']],
    ['hi @ada, and @ANNA.', ['ada', 'anna']],
    ['@Ada Lovelace: the longest name wins', ['lovelace']],
    ['by address: @lovelace@example.com', ['lovelace']],
    ['@zoë ñúñez!', ['zoe']],
    ['twice @Ada @ada', ['ada']],
    ['no mention in ada@example.com', []],
    ['not a prefix: @Adam or @Annabel', []],
    ['a lone @ and @nobody', []],
  ])('%s', (content, expected) => {
    expect(parseMentions(content, people)).toEqual(expected);
  });
});
