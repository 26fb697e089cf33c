import { randomInt } from 'node:crypto';

// Verification codes are read off a phone and typed (or pre-filled) into a chat, so they avoid characters that
// look alike (0/O, 1/I/L) and ignore case. 8 characters from 31 give about 40 bits, far beyond what the
// per-sender guess limit lets anyone try. A code always holds a digit, so ordinary 8-letter words in a chat
// ("STRENGTH") are never mistaken for a guess.

export const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const CODE_LENGTH = 8;
/** How long a code is accepted after it was issued. */
export const CODE_TTL_MS = 24 * 60 * 60 * 1000;

const CODE_SHAPE = new RegExp(`^(?=.*[2-9])[${CODE_ALPHABET}]{${CODE_LENGTH}}$`);
// A word of exactly CODE_LENGTH letters or digits, not part of a longer one.
const WORD = new RegExp(`(?<![A-Za-z0-9])[A-Za-z0-9]{${CODE_LENGTH}}(?![A-Za-z0-9])`, 'g');

export function generateVerificationCode(): string {
  for (;;) {
    let code = '';
    for (let i = 0; i < CODE_LENGTH; i += 1) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
    if (CODE_SHAPE.test(code)) return code;
  }
}

/**
 * The code a message tries: its first code-shaped word, upper-cased. One message is one guess, however many
 * code-shaped words it holds, so that a message cannot try several codes against the guess limits.
 */
export function codeIn(text: string): string | undefined {
  for (const [word] of text.matchAll(WORD)) {
    const candidate = word.toUpperCase();
    if (CODE_SHAPE.test(candidate)) return candidate;
  }
  return undefined;
}
