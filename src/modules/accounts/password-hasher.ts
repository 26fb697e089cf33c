import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/** The binding's `Algorithm.Argon2id` (a const enum, which this project's module syntax cannot import). */
const ALGORITHM_ARGON2ID = 2;

/** OWASP's first recommended argon2id configuration: 19 MiB of memory, 2 iterations, 1 lane. */
const ARGON2ID = { algorithm: ALGORITHM_ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

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

  /** Whether `password` matches `stored`; without a stored hash, the same work and false. */
  async verify(stored: string | null | undefined, password: string): Promise<boolean> {
    if (!stored) {
      await verify(await this.decoy, password);
      return false;
    }
    try {
      return await verify(stored, password);
    } catch {
      // A malformed stored hash (written by hand, say) matches nothing.
      return false;
    }
  }
}
