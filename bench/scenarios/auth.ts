import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchDatabase, BenchUser } from '../lib/setup.js';
import { closedLoop, type LoadResult } from '../lib/stats.js';
import { besideTransport } from './ceilings.js';

/** Sign-ins at once: argon2id runs on libuv's 4 threads, so more clients only queue. */
export const SIGN_IN_CONCURRENCY = 4;
const REFRESH_CONCURRENCY = 16;

const SIGN_IN = `mutation SignIn($input: SignInInput!) { signIn(input: $input) { accessToken refreshToken } }`;
const REFRESH = `mutation Refresh($token: String!) { refreshSession(refreshToken: $token) { accessToken refreshToken } }`;

export interface AuthBench {
  signIn: LoadResult;
  /** argon2id verifications in the load generator's process, OWASP's parameters, same concurrency. */
  argon2: LoadResult;
  refresh: LoadResult;
  transport: LoadResult;
}

/**
 * signIn beside the cost of argon2id itself, and refreshSession beside `{ __typename }` (in alternating windows,
 * like sendMessage: the median of three rounds). Every user has a password of their own; each refresh worker
 * follows its own chain of rotated refresh tokens, as a client does.
 */
export async function benchAuth(
  bench: BenchDatabase,
  graphqlUrl: string,
  seeded: { organizationId: string; users: (BenchUser & { email: string })[] },
  seconds: number,
): Promise<AuthBench> {
  const passwords = new Map<string, string>();
  for (const user of seeded.users) {
    const password = `bench ${randomBytes(9).toString('base64url')} pass`;
    await bench.services.accounts.setPassword({ ...user, organizationId: seeded.organizationId }, password);
    passwords.set(user.id, password);
  }
  const signInBody = (user: BenchUser & { email: string }) =>
    JSON.stringify({ query: SIGN_IN, variables: { input: { email: user.email, password: passwords.get(user.id) } } });

  const sample = await hash('a sample password for the ceiling', {
    algorithm: 2,
    memoryCost: 19_456,
    timeCost: 2,
    parallelism: 1,
  });
  const argon2 = await closedLoop(SIGN_IN_CONCURRENCY, seconds, async () => {
    await verify(sample, 'a sample password for the ceiling');
  });
  const signIn = await closedLoop(SIGN_IN_CONCURRENCY, seconds, async (worker) => {
    await postGraphQL(graphqlUrl, signInBody(seeded.users[worker % seeded.users.length]!));
  });

  const chains: string[] = [];
  for (let worker = 0; worker < REFRESH_CONCURRENCY; worker++) {
    const data = (await postGraphQL(graphqlUrl, signInBody(seeded.users[worker % seeded.users.length]!))) as {
      signIn: { refreshToken: string };
    };
    chains.push(data.signIn.refreshToken);
  }
  const { measured: refresh, transport } = await besideTransport(graphqlUrl, seeded.users, seconds, () =>
    closedLoop(REFRESH_CONCURRENCY, seconds, async (worker) => {
      const data = (await postGraphQL(
        graphqlUrl,
        JSON.stringify({ query: REFRESH, variables: { token: chains[worker] } }),
      )) as { refreshSession: { refreshToken: string } };
      chains[worker] = data.refreshSession.refreshToken;
    }),
  );
  return { signIn, argon2, refresh, transport };
}
