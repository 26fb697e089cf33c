import { describe, expect, it } from '@jest/globals';
import { passwordProblem } from './password-policy.js';

const rules = { minLength: 15, email: 'alice.smith@example.com' };

describe('passwordProblem (NIST SP 800-63B)', () => {
  it('accepts a long passphrase with no composition rules', () => {
    expect(passwordProblem('purple otter drinks tea', rules)).toBeUndefined();
    expect(passwordProblem('лиса пьёт чай вечером', rules)).toBeUndefined();
  });

  it.each([
    ['short one', 'must be at least 15 characters long'],
    ['passwordpassword', 'most often tried'],
    ['Password1234!!!!', 'most often tried'],
    ['aaaaaaaaaaaaaaaaaaaa', 'too few different characters'],
    ['abababababababab', 'too few different characters'],
    ['abcdefghijklmnopq', 'sequence'],
    ['9876543210987654', 'sequence'],
    ['my name is alice.smith ok', 'e-mail address'],
    ['x'.repeat(257), 'at most 256'],
  ])('refuses %j, saying why', (password, why) => {
    expect(passwordProblem(password, rules)).toContain(why);
  });

  it('counts characters, not bytes', () => {
    expect(passwordProblem('ééééé ààààà ôôôô', { minLength: 16 })).toBeUndefined();
    expect(passwordProblem('éàô éàô éàô éàô', { minLength: 16 })).toContain('at least 16');
  });
});
