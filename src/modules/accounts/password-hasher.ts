import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/** The binding's `Algorithm.Argon2id` (a const enum, which this project's module syntax cannot import). */
const ALGORITHM_ARGON2ID = 2;

/** OWASP's first recommended argon2id configuration: 19 MiB of memory, 2 iterations, 1 lane. */
const ARGON2ID = { algorithm: ALGORITHM_ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** What checking a password against a stored hash found. */
export type PasswordCheck = 'matches' | 'differs' | 'unreadable';

/**
 * argon2id through @node-rs/argon2 (a maintained binding of the reference implementation; the work runs on
 * libuv's thread pool, not the event loop). Hashes are PHC strings, so the parameters travel with each hash.
 */
export class PasswordHasher {
  // A hash of nothing anyone knows, checked when there is no hash to check (unknown e-mail, no password set),
  // so that every failed sign-in costs the same time as a wrong password.
  private readonly decoy = hash(randomBytes(32).toString('base64url'), ARGON2ID);

  hash(password: string): Promise<string> {
    return hash(password, ARGON2ID);
  }

  /**
   * Checks `password` against `stored`; without a stored hash, the same work and 'differs'. 'unreadable': argon2
   * cannot read the stored hash (written by hand, say), so no password matches it until one is set anew.
   */
  async check(stored: string | null | undefined, password: string): Promise<PasswordCheck> {
    if (!stored) {
      await verify(await this.decoy, password);
      return 'differs';
    }
    try {
      return (await verify(stored, password)) ? 'matches' : 'differs';
    } catch {
      return 'unreadable';
    }
  }
}
