import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';
import { runTs } from '../support/process.js';

// An operator's mistakes that would leave production open: each refuses to start, naming the setting.

const development = loadConfig({});
const DEVELOPMENT_JWT_SECRET = development.jwt.secret!;
const DEVELOPMENT_ENCRYPTION_KEY = development.encryptionKey.toString('hex');

const safe = {
  NODE_ENV: 'production',
  JWT_SECRET: randomBytes(32).toString('base64url'),
  ENCRYPTION_KEY: randomBytes(32).toString('hex'),
};

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('production configuration', () => {
  it('starts with real secrets, and derives none', () => {
    expect(problemsOf(safe)).toEqual([]);
    const providerOnly = loadConfig({
      ...safe,
      JWT_SECRET: undefined,
      JWT_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
    });
    expect(providerOnly.jwt.secret).toBeUndefined();
    expect(providerOnly.developmentDefaults).toEqual([]);
  });

  it.each([
    ['JWT_SECRET equal to the development default', { JWT_SECRET: DEVELOPMENT_JWT_SECRET }, 'JWT_SECRET'],
    [
      'ENCRYPTION_KEY equal to the development default',
      { ENCRYPTION_KEY: DEVELOPMENT_ENCRYPTION_KEY.toUpperCase() },
      'ENCRYPTION_KEY',
    ],
    ['no ENCRYPTION_KEY', { ENCRYPTION_KEY: undefined }, 'ENCRYPTION_KEY'],
    ['neither JWT_SECRET nor JWT_JWKS_URL', { JWT_SECRET: undefined }, 'JWT_SECRET'],
    [
      'a JWKS fetched over plain HTTP from another host',
      { JWT_JWKS_URL: 'http://idp.example.com/.well-known/jwks.json' },
      'JWT_JWKS_URL',
    ],
  ])('refuses %s, naming the setting', (_case, change, setting) => {
    const problems = problemsOf({ ...safe, ...change });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${setting}: `))]);
  });

  it('lists every unsafe setting at once', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      JWT_SECRET: DEVELOPMENT_JWT_SECRET,
      ENCRYPTION_KEY: DEVELOPMENT_ENCRYPTION_KEY,
      JWT_JWKS_URL: 'http://idp.example.com/jwks.json',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
      'ENCRYPTION_KEY',
      'JWT_JWKS_URL',
      'JWT_SECRET',
    ]);
  });

  it('keeps the development defaults out of production in the server itself: it exits 1, one line per setting', async () => {
    const run = runTs('src/main.ts', [], {
      NODE_ENV: 'production',
      JWT_SECRET: DEVELOPMENT_JWT_SECRET,
      ENCRYPTION_KEY: DEVELOPMENT_ENCRYPTION_KEY,
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/never-reached',
    });
    expect(await run.exited).toBe(1);
    expect(run.output().trim().split('\n').sort()).toEqual([
      expect.stringMatching(/^configuration error: ENCRYPTION_KEY: .*development default/),
      expect.stringMatching(/^configuration error: JWT_SECRET: .*development default/),
    ]);
  }, 30_000);
});
