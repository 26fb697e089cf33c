import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('starts with no configuration at all, on development defaults it names', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 4000,
      publicUrl: 'http://localhost:4000',
      databaseUrl: undefined,
    });
    expect(config.developmentDefaults).toEqual(['JWT_SECRET', 'ENCRYPTION_KEY']);
    expect(config.encryptionKey).toHaveLength(32);
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'abc',
        DATABASE_URL: 'mysql://x',
        JWT_SECRET: 'short',
        ENCRYPTION_KEY: 'zz',
        LOG_LEVEL: 'loud',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(
      expect.arrayContaining(['PORT', 'DATABASE_URL', 'JWT_SECRET', 'ENCRYPTION_KEY', 'LOG_LEVEL']),
    );
  });

  it('requires real secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    const config = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 's'.repeat(40),
      ENCRYPTION_KEY: 'ab'.repeat(32),
      PUBLIC_URL: 'https://chat.example.com/',
    });
    expect(config.developmentDefaults).toEqual([]);
    expect(config.publicUrl).toBe('https://chat.example.com');
  });

  it('reads Redis Cluster seed nodes, and refuses a list that is not host:port or comes with REDIS_URL', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-a:7000, 10.0.0.2:7001,[::1]:7002' }).redisClusterNodes).toEqual([
      { host: 'redis-a', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(loadConfig({}).redisClusterNodes).toEqual([]);
    for (const nodes of ['redis-a', 'redis-a:99999', 'redis://redis-a:7000', ' , '])
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: nodes })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_CLUSTER_USERNAME: 'chat', REDIS_CLUSTER_PASSWORD: 'secret' })
        .redisClusterAuth,
    ).toEqual({ username: 'chat', password: 'secret' });
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://b:6379' })).toThrow(
      /REDIS_CLUSTER_NODES: set either REDIS_URL/,
    );
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '' })).toMatchObject({ port: 4000, redisUrl: undefined });
  });
});

const key = (digit: string) => digit.repeat(64);

describe('platform settings', () => {
  it('defaults the Graph API bases and outbox timing', () => {
    const config = loadConfig({});
    expect(config.meta.graphApiUrl).toMatch(/^https:\/\/graph\.facebook\.com\/v\d+\.\d+$/);
    expect(config.meta.instagramApiUrl).toMatch(/^https:\/\/graph\.instagram\.com\/v\d+\.\d+$/);
    expect(config.encryptionPreviousKeys).toEqual([]);
    expect(config.outbox).toEqual({
      workerEnabled: true,
      maxAttempts: 6,
      retryBaseMs: 10_000,
      pollIntervalMs: 5_000,
      sendRates: { whatsapp: 80, instagram: 300, instagramAudioVideo: 10 },
    });
  });

  it("reads Meta's sends per second, and refuses none or more than Meta allows", () => {
    expect(
      loadConfig({
        WHATSAPP_SENDS_PER_SECOND: '1000',
        INSTAGRAM_SENDS_PER_SECOND: '100',
        INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND: '5',
      }).outbox.sendRates,
    ).toEqual({ whatsapp: 1_000, instagram: 100, instagramAudioVideo: 5 });
    for (const setting of [
      'WHATSAPP_SENDS_PER_SECOND',
      'INSTAGRAM_SENDS_PER_SECOND',
      'INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND',
    ])
      for (const value of ['0', '1001', '2.5', 'fast'])
        expect(() => loadConfig({ [setting]: value })).toThrow(new RegExp(setting));
  });

  it('reads previous encryption keys and trims trailing slashes from the API bases', () => {
    const config = loadConfig({
      ENCRYPTION_KEY: key('a'),
      ENCRYPTION_PREVIOUS_KEYS: `${key('b')}, ${key('c')}`,
      META_GRAPH_API_URL: 'http://127.0.0.1:9999/v99.0/',
    });
    expect(config.encryptionPreviousKeys.map((buffer) => buffer.toString('hex'))).toEqual([key('b'), key('c')]);
    expect(config.meta.graphApiUrl).toBe('http://127.0.0.1:9999/v99.0');
  });

  it('lists every bad setting at once', () => {
    let problems: string[] = [];
    try {
      loadConfig({ ENCRYPTION_PREVIOUS_KEYS: 'short', META_GRAPH_API_URL: 'ftp://x', OUTBOX_MAX_ATTEMPTS: '0' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^ENCRYPTION_PREVIOUS_KEYS: /),
      expect.stringMatching(/^META_GRAPH_API_URL: /),
      expect.stringMatching(/^OUTBOX_MAX_ATTEMPTS: /),
    ]);
  });
});

describe('accounts settings', () => {
  it('reads durations as 900, 15m, 12h or 30d, and refuses others naming the setting', () => {
    const config = loadConfig({ ACCESS_TOKEN_TTL: '5m', REFRESH_TOKEN_TTL: '7d', INVITATION_TTL: '3600' });
    expect(config.accounts).toMatchObject({
      accessTokenTtlSeconds: 300,
      refreshTokenTtlSeconds: 604_800,
      invitationTtlSeconds: 3_600,
      passwordResetTtlSeconds: 3_600,
      passwordMinLength: 15,
    });
    expect(() => loadConfig({ ACCESS_TOKEN_TTL: 'soon' })).toThrow(/ACCESS_TOKEN_TTL: must be like 900, 15m/);
    expect(() => loadConfig({ ACCESS_TOKEN_TTL: '2d' })).toThrow(/ACCESS_TOKEN_TTL: must be between/);
  });

  it('needs all four OIDC settings or none, naming the missing ones', () => {
    expect(loadConfig({}).oidc).toBeUndefined();
    expect(() => loadConfig({ OIDC_ISSUER: 'https://id.example.com', OIDC_CLIENT_ID: 'chat' })).toThrow(
      /OIDC_CLIENT_SECRET: required for single sign-on[\s\S]*OIDC_ORGANIZATION_ID: required for single sign-on/,
    );
    const config = loadConfig({
      PUBLIC_URL: 'https://chat.example.com/',
      OIDC_ISSUER: 'https://id.example.com',
      OIDC_CLIENT_ID: 'chat',
      OIDC_CLIENT_SECRET: 'secret',
      OIDC_ORGANIZATION_ID: '0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69',
    });
    expect(config.oidc?.redirectUrl).toBe('https://chat.example.com/auth/oidc/callback');
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: 'x'.repeat(40),
        ENCRYPTION_KEY: 'cd'.repeat(32),
        OIDC_ISSUER: 'http://id.example.com',
        OIDC_CLIENT_ID: 'chat',
        OIDC_CLIENT_SECRET: 'secret',
        OIDC_ORGANIZATION_ID: '0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69',
      }),
    ).toThrow(/OIDC_ISSUER: must be an https:\/\/ URL in production/);
  });
});
