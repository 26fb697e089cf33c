import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  JWT_SECRET: 'x'.repeat(32),
  ENCRYPTION_KEY: 'ab'.repeat(32),
};

describe('limit settings', () => {
  it('have safe defaults, with GraphiQL, introspection and suggestions on outside production only', () => {
    const development = loadConfig({});
    expect(development.graphql).toEqual({
      graphiql: true,
      introspection: true,
      suggestions: true,
      maxBodyBytes: 102_400,
      bodyTimeoutMs: 10_000,
      maxDepth: 12,
      maxAliases: 15,
      maxTokens: 1_000,
      maxDirectives: 20,
      maxCost: 20_000,
    });
    expect(development.rateLimits).toEqual({ windowMs: 60_000, mutationsPerUser: 300, mutationsPerIp: 3_000 });
    expect(development.webSocket).toEqual({
      maxConnectionsPerUser: 10,
      maxConnectionsPerIp: 200,
      maxOperationsPerConnection: 100,
    });
    expect(development.trustedProxyHops).toBe(0);
    expect(development.metricsToken).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'test' }).graphql).toMatchObject({ graphiql: true, introspection: true });
    expect(loadConfig(PRODUCTION).graphql).toMatchObject({ graphiql: false, introspection: false, suggestions: false });
    // Suggestions go with introspection unless set.
    expect(loadConfig({ INTROSPECTION_ENABLED: 'false' }).graphql.suggestions).toBe(false);
    expect(loadConfig({ ...PRODUCTION, SUGGESTIONS_ENABLED: 'true' }).graphql.suggestions).toBe(true);
  });

  it('can be switched and tuned, 0 turning a count limit off', () => {
    const config = loadConfig({
      ...PRODUCTION,
      GRAPHIQL_ENABLED: 'true',
      INTROSPECTION_ENABLED: '1',
      GRAPHQL_MAX_COST: '0',
      RATE_LIMIT_WINDOW_SECONDS: '10',
      RATE_LIMIT_MUTATIONS_PER_IP: '0',
      TRUSTED_PROXY_HOPS: '1',
    });
    expect(config.graphql).toMatchObject({ graphiql: true, introspection: true, maxCost: 0 });
    expect(config.rateLimits).toMatchObject({ windowMs: 10_000, mutationsPerIp: 0 });
    expect(config.trustedProxyHops).toBe(1);
    expect(loadConfig({ INTROSPECTION_ENABLED: 'false' }).graphql.introspection).toBe(false);
  });

  it('refuses bad values, all of them at once, by name', () => {
    let problems: string[] = [];
    try {
      loadConfig({
        GRAPHQL_MAX_DEPTH: '-1',
        GRAPHQL_MAX_COST: 'lots',
        INTROSPECTION_ENABLED: 'maybe',
        RATE_LIMIT_WINDOW_SECONDS: '0',
        METRICS_TOKEN: 'short',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        'GRAPHQL_MAX_DEPTH: must be 0 (off) or more',
        'GRAPHQL_MAX_COST: must be a number',
        'INTROSPECTION_ENABLED: must be true or false',
        'RATE_LIMIT_WINDOW_SECONDS: must be between 1 and 86400',
        'METRICS_TOKEN: must be at least 16 characters',
      ]),
    );
    expect(problems).toHaveLength(5);
  });
});
