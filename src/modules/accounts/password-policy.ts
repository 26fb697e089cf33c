import { COMMON_PASSWORDS } from './common-passwords.js';

/** Longest password accepted: argon2id takes any length, but an unbounded input is work an attacker chooses. */
export const PASSWORD_MAX_LENGTH = 256;

const common = new Set(COMMON_PASSWORDS);

/**
 * Why a new password is refused, or undefined when it is acceptable. NIST SP 800-63B: a minimum length, no
 * composition rules, and a check against passwords known from breaches, repetitive or sequential ones and the
 * context (the user's own e-mail address). Length counts characters (code points), as a person does.
 */
export function passwordProblem(password: string, context: { minLength: number; email?: string }): string | undefined {
  const length = [...password].length;
  if (length < context.minLength) return `must be at least ${context.minLength} characters long`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters long`;
  const lower = password.toLowerCase();
  if (common.has(lower) || common.has(lower.replace(/[\d\W_]+$/u, '')))
    return 'is one of the passwords most often tried by attackers; choose another';
  if (new Set(lower).size < 4) return 'repeats too few different characters; choose another';
  if (isSequence(lower)) return 'is a sequence of keys or digits; choose another';
  if (context.email) {
    const address = context.email.toLowerCase();
    const localPart = address.split('@')[0] ?? '';
    if (lower.includes(address) || (localPart.length >= 4 && lower.includes(localPart)))
      return 'must not contain your e-mail address';
  }
  return undefined;
}

/**
 * Every character the next (or every one the previous) of the one before it: "abcdefghijklmnop", and digits
 * around the keyboard row, "1234567890123456".
 */
function isSequence(text: string): boolean {
  const codes = [...text].map((char) => char.codePointAt(0)!);
  const digits = /^\d+$/.test(text);
  const steps = new Set(
    codes.slice(1).map((code, index) => {
      const step = code - codes[index]!;
      return digits ? (step + 10) % 10 : step;
    }),
  );
  return steps.size === 1 && [...steps].every((step) => (digits ? step === 1 || step === 9 : Math.abs(step) <= 1));
}
