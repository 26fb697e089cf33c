import { describe, expect, it } from '@jest/globals';
import { CODE_ALPHABET, CODE_LENGTH, codeCandidates, generateVerificationCode } from './verification-codes.js';

describe('generateVerificationCode', () => {
  it('draws from the unambiguous alphabet, always with a digit, and rarely repeats', () => {
    const codes = Array.from({ length: 2000 }, generateVerificationCode);
    for (const code of codes) {
      expect(code).toHaveLength(CODE_LENGTH);
      expect([...code].every((char) => CODE_ALPHABET.includes(char))).toBe(true);
      expect(code).toMatch(/[2-9]/);
      expect(code).not.toMatch(/[01OIL]/);
    }
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('finds its own codes in the text they are sent in', () => {
    const code = generateVerificationCode();
    expect(codeCandidates(code)).toEqual([code]);
    expect(codeCandidates(`Hi! my code is ${code.toLowerCase()}.`)).toEqual([code]);
  });
});

describe('codeCandidates', () => {
  it('ignores ordinary words, words of other lengths and words with look-alike characters', () => {
    expect(codeCandidates('STRENGTH tomorrow birthday')).toEqual([]);
    expect(codeCandidates('AB3DEF7')).toEqual([]);
    expect(codeCandidates('AB3DEF7HJ')).toEqual([]);
    expect(codeCandidates('AB3DEF70')).toEqual([]);
    expect(codeCandidates('')).toEqual([]);
  });

  it('takes code-shaped words next to punctuation, once each, at most five', () => {
    expect(codeCandidates('(AB3DEF7H), ab3def7h; ZZ99ZZ99')).toEqual(['AB3DEF7H', 'ZZ99ZZ99']);
    const many = Array.from({ length: 9 }, (_, i) => `ABCDEFG${i + 2}`).join(' ');
    expect(codeCandidates(many)).toHaveLength(5);
  });
});
