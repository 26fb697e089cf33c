// What PostgreSQL stores as text: it refuses U+0000 in `text` and `jsonb` (22021 / 22P05), and an unpaired
// surrogate is not Unicode at all (`jsonb` refuses it; `text` would silently store U+FFFD in its place).

// In a `u` regular expression a surrogate pair is one code point, so this finds only unpaired surrogates.
const UNPAIRED_SURROGATE = /\p{Surrogate}/u;
const UNSTORABLE = /\u0000|\p{Surrogate}/gu;

/** Why a string cannot be stored as text, or undefined: for input a client can correct. */
export function textProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (UNPAIRED_SURROGATE.test(value)) return 'must be well-formed Unicode (it holds an unpaired surrogate)';
  return undefined;
}

/**
 * The string with what cannot be stored replaced by U+FFFD: for text that must be kept whatever it holds,
 * such as what customers send through a platform.
 */
export const storableText = (value: string): string => value.replace(UNSTORABLE, '\uFFFD');
