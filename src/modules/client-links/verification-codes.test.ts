import { describe, expect, it } from '@jest/globals';
import { CODE_ALPHABET, CODE_LENGTH, codeIn, generateVerificationCode } from './verification-codes.js';

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
    expect(codeIn(code)).toBe(code);
    expect(codeIn(`Hi! my code is ${code.toLowerCase()}.`)).toBe(code);
  });
});

describe('codeIn', () => {
  it('ignores ordinary words, words of other lengths and words with look-alike characters', () => {
    for (const text of ['STRENGTH tomorrow birthday', 'AB3DEF7', 'AB3DEF7HJ', 'AB3DEF70', '']) {
      expect(codeIn(text)).toBeUndefined();
    }
  });

  it('takes the first code-shaped word only, next to punctuation too: one message, one guess', () => {
    expect(codeIn('(AB3DEF7H), ZZ99ZZ99')).toBe('AB3DEF7H');
    expect(codeIn('hello STRENGTH, zz99zz99 AB3DEF7H')).toBe('ZZ99ZZ99');
  });
});
